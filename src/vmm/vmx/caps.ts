// What VT-x offers on this CPU, computed once by VmxBackend.enable() and shared by every VMCS.

/** Settings shared by every VMCS on this CPU, computed once. */
export class VmxCaps {
  revision: u32 = 0;
  pin: u32 = 0;
  proc: u32 = 0;
  proc2: u32 = 0;
  exit: u32 = 0;
  entry: u32 = 0;
  cr0Fixed0: u64 = 0;
  cr0Fixed1: u64 = 0;
  cr4Fixed0: u64 = 0;
  cr4Fixed1: u64 = 0;
  eptWb: bool = false;
  ept2m: bool = false;
  inveptSingle: bool = false;
  invvpidSingle: bool = false;
  vpid: bool = false;
  preemptShift: u32 = 0;
  preempt: bool = false;
  /** Host state read once (boot/vmentry.S hw_host_tables). */
  host: StaticArray<u64> = new StaticArray<u64>(12);
  ioBitmapA: u64 = 0;
  ioBitmapB: u64 = 0;
  msrBitmap: u64 = 0;
}
