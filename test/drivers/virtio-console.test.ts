// virtio-console driver against a virtio-serial device played in Node: the multiport handshake, bytes both ways, a broken ring.
import { beforeAll, describe, expect, it } from "vitest";
import { loadDrivers } from "./harness.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let d: any;
beforeAll(async () => {
  d = await loadDrivers();
});

const DEVICE_READY = 0, DEVICE_ADD = 1, PORT_READY = 3, CONSOLE_PORT = 4, PORT_OPEN = 6;
const msg = (id: number, event: number, value: number) => (BigInt(id) << 32n) | (BigInt(event) << 16n) | BigInt(value);

function io(): Uint8Array {
  return new Uint8Array(d.memory.buffer, d.ioAddr(), 32768);
}
function hostSend(s: string): boolean {
  const b = Buffer.from(s);
  io().set(b);
  return d.devHostSend(b.length);
}
function hostTake(): string {
  const n = d.devHostTake();
  return Buffer.from(io().subarray(0, n)).toString();
}
function driverWrite(s: string): number {
  const b = Buffer.from(s);
  io().set(b);
  return d.conWrite(b.length);
}
function driverRead(): string {
  const n = d.conRead(8192);
  return Buffer.from(io().subarray(0, n)).toString();
}
/** The handshake QEMU does for a virtconsole at port 0 (virtio 1.2 5.3.6.2). */
function handshake(): void {
  expect(d.devCtrlTake()).toBe(msg(0, DEVICE_READY, 1));
  expect(d.devCtrlSend(0, DEVICE_ADD, 0)).toBe(true);
  expect(d.devCtrlSend(1, DEVICE_ADD, 0)).toBe(true);
  d.conPoll();
  expect(d.devCtrlTake()).toBe(msg(0, PORT_READY, 1));
  expect(d.devCtrlTake()).toBe(msg(1, PORT_READY, 0)); // only port 0 is driven
  expect(d.devCtrlSend(0, CONSOLE_PORT, 1)).toBe(true);
  d.conPoll();
  expect(d.devCtrlTake()).toBe(msg(0, PORT_OPEN, 1));
  expect(d.conHostOpen()).toBe(false);
  expect(d.devCtrlSend(0, PORT_OPEN, 1)).toBe(true);
  d.conPoll();
  expect(d.conHostOpen()).toBe(true);
  expect(d.devCtrlTake()).toBe(-1n);
}

describe("virtio-console", () => {
  it("negotiates MULTIPORT and follows the port handshake", () => {
    d.conReset(true);
    expect(d.conStart()).toBe(true);
    expect(d.conMultiport()).toBe(true);
    handshake();
  });

  it("carries bytes both ways, split across buffers", () => {
    d.conReset(true);
    expect(d.conStart()).toBe(true);
    handshake();
    expect(hostSend('{"jsonrpc":"2.0",')).toBe(true);
    expect(hostSend('"id":1,"method":"port.list"}\n')).toBe(true);
    d.conPoll();
    expect(driverRead()).toBe('{"jsonrpc":"2.0","id":1,"method":"port.list"}\n');
    const reply = "x".repeat(3000) + "\n"; // more than one 1 KiB TX buffer
    expect(driverWrite(reply)).toBe(reply.length);
    d.conPoll();
    expect(hostTake()).toBe(reply);
    // TX buffers come back: many more rounds than there are buffers
    for (let i = 0; i < 100; i++) {
      driverWrite(`line ${i}\n`);
      d.conPoll();
      expect(hostTake()).toBe(`line ${i}\n`);
      expect(hostSend(`in ${i}\n`)).toBe(true); // RX buffers are posted again
      d.conPoll();
      expect(driverRead()).toBe(`in ${i}\n`);
    }
  });

  it("without MULTIPORT port 0 is open at once and no control queue is used", () => {
    d.conReset(false);
    expect(d.conStart()).toBe(true);
    expect(d.conMultiport()).toBe(false);
    expect(d.conHostOpen()).toBe(true);
    expect(d.devCtrlTake()).toBe(-1n);
    driverWrite("hello\n");
    d.conPoll();
    expect(hostTake()).toBe("hello\n");
  });

  it("a used length over the buffer resets the device with one message, then works again", () => {
    d.conReset(true);
    expect(d.conStart()).toBe(true);
    handshake();
    const before = d.conDeviceResets();
    d.devConBadLen();
    d.conPoll();
    expect(d.conResets()).toBe(1);
    expect(d.conDeviceResets()).toBeGreaterThan(before);
    expect(d.conMessage()).toBe("RX ring: used len larger than the buffer: device reset");
    handshake();
    expect(hostSend("again\n")).toBe(true);
    d.conPoll();
    expect(driverRead()).toBe("again\n");
  });

  it("a reader that stops reading fills only the output ring: the rest is dropped and counted", () => {
    d.conReset(true);
    expect(d.conStart()).toBe(true);
    handshake();
    expect(d.conWriteMany(300_000)).toBe(262_144);
    expect(d.conOutDropped()).toBe(300_000n - 262_144n);
    let got = 0;
    for (let i = 0; i < 300 && got < 262_144; i++) {
      d.conPoll();
      got += d.devHostTake();
    }
    expect(got).toBe(262_144);
  });
});
