// Audit log: a bounded ring of the state-changing calls, numbered without
// gaps; when full, the oldest records are dropped and counted.

import { ByteBuf, JValue, JsonWriter } from "./json";

/** Most records kept. */
export const AUDIT_MAX_RECORDS: i32 = 1024;
/** Most bytes of serialized params kept over all records. */
export const AUDIT_MAX_BYTES: i32 = 1 << 20;

class AuditRecord {
  seq: i64 = 0;
  ts: i64 = 0;
  method: string = "";
  params: ArrayBuffer = new ArrayBuffer(0);
  ok: bool = true;
  code: i32 = 0;
  message: string = "";
}

export class AuditLog {
  private ring: Array<AuditRecord | null> = new Array<AuditRecord | null>(AUDIT_MAX_RECORDS);
  private head: i32 = 0; // index of the oldest record
  private count: i32 = 0;
  private bytes: i32 = 0;
  private nextSeq: i64 = 1;
  /** Records dropped to make room, since start. */
  dropped: i64 = 0;
  private scratch: ByteBuf;
  private sw: JsonWriter;
  private maxRecords: i32;
  private maxBytes: i32;

  constructor(maxRecords: i32 = AUDIT_MAX_RECORDS, maxBytes: i32 = AUDIT_MAX_BYTES) {
    this.maxRecords = maxRecords < AUDIT_MAX_RECORDS ? maxRecords : AUDIT_MAX_RECORDS;
    this.maxBytes = maxBytes;
    const b = new ByteBuf(1024);
    this.scratch = b;
    this.sw = new JsonWriter(b);
  }

  private dropOldest(): void {
    const r = this.ring[this.head] as AuditRecord;
    this.bytes -= r.params.byteLength;
    this.ring[this.head] = null;
    this.head = (this.head + 1) % this.maxRecords;
    this.count--;
    this.dropped++;
  }

  /** Appends a record; params are stored as serialized JSON ({} when absent). */
  record(ts: i64, method: string, params: JValue | null, code: i32, message: string): void {
    this.scratch.clear();
    this.scratch.compact(4096);
    this.sw.reset();
    if (params === null) this.scratch.ascii("{}");
    else this.sw.value(params);
    const n = this.scratch.len;
    const ab = new ArrayBuffer(n);
    memory.copy(changetype<usize>(ab), this.scratch.ptr, <usize>n);
    while (this.count > 0 && (this.count >= this.maxRecords || this.bytes + n > this.maxBytes)) this.dropOldest();
    const r = new AuditRecord();
    r.seq = this.nextSeq++;
    r.ts = ts;
    r.method = method;
    r.params = ab;
    r.ok = code == 0;
    r.code = code;
    r.message = message;
    this.ring[(this.head + this.count) % this.maxRecords] = r;
    this.count++;
    this.bytes += n;
  }

  /** Sequence number of the oldest record kept (next one when empty). */
  firstSeq(): i64 {
    return this.nextSeq - <i64>this.count;
  }

  lastSeq(): i64 {
    return this.nextSeq - 1;
  }

  /** The newest record's error code (0 = ok), or -1 when there is none. */
  lastCode(): i32 {
    if (this.count == 0) return -1;
    const r = this.ring[(this.head + this.count - 1) % this.maxRecords] as AuditRecord;
    return r.code;
  }

  size(): i32 {
    return this.count;
  }

  /** Writes the records with seq > since, oldest first, as a JSON array. */
  write(w: JsonWriter, since: i64): void {
    w.beginArr();
    for (let i = 0; i < this.count; i++) {
      const r = this.ring[(this.head + i) % this.maxRecords] as AuditRecord;
      if (r.seq <= since) continue;
      w.beginObj();
      w.key("seq").int(r.seq);
      w.key("ts_ms").int(r.ts);
      w.key("method").str(r.method);
      w.key("params").raw(changetype<usize>(r.params), r.params.byteLength);
      w.key("ok").bool(r.ok);
      if (!r.ok) {
        w.key("error").beginObj();
        w.key("code").int(r.code);
        w.key("message").str(r.message);
        w.endObj();
      }
      w.endObj();
    }
    w.endArr();
  }

  writeInfo(w: JsonWriter): void {
    w.beginObj();
    w.key("first_seq").int(this.firstSeq());
    w.key("last_seq").int(this.lastSeq());
    w.key("records").int(this.count);
    w.key("dropped").int(this.dropped);
    w.key("max_records").int(this.maxRecords);
    w.key("max_bytes").int(this.maxBytes);
    w.endObj();
  }
}
