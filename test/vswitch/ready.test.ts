// The ready set (src/vswitch/ready.ts): the switch marks a port when a frame is queued on it while it had
// none queued; the main loop takes the marks and services only those ports.
import { beforeAll, beforeEach, describe, expect, test } from "vitest";
import { Sw, loadSw, frame } from "./harness";

let sw: Sw;
beforeAll(async () => {
  sw = await loadSw();
});
beforeEach(() => sw.reset(4096, 64));

const A = "02:00:00:00:00:0a", B = "02:00:00:00:00:0b", BC = "ff:ff:ff:ff:ff:ff";

describe("ready set", () => {
  test("a flood marks every other port of the VLAN once (taken lowest id first); nothing more until drained", () => {
    const [a, b, c, d] = ["a", "b", "c", "d"].map((n) => sw.addPort(n));
    sw.access("d", 20);
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    expect(sw.x.readyTake(256)).toBe(`${b},${c}`); // d is in another VLAN; a is the ingress port
    expect(sw.x.readyCount()).toBe(0);
    // b and c still have frames queued: another frame does not mark them again
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    expect(sw.x.readyTake(256)).toBe("");
    expect(sw.drain(b, 0).length).toBe(3);
    // b is empty again: the next frame marks it; c was never drained, so it is not marked
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    expect(sw.x.readyTake(256)).toBe(`${b}`);
    expect(sw.drain(c, 0).length).toBe(4);
    expect(sw.drain(d, 0).length).toBe(0);
  });

  test("a unicast to a learned port marks that port only; a dropped frame marks nothing", () => {
    const [a, b, c] = ["a", "b", "c"].map((n) => sw.addPort(n));
    sw.inject(b, frame({ dst: BC, src: B }), 0); // learn B on b
    sw.x.readyTake(256);
    sw.drain(a, 0);
    sw.drain(c, 0);
    sw.inject(a, frame({ dst: B, src: A }), 0);
    expect(sw.x.readyTake(256)).toBe(`${b}`);
    sw.drain(b, 0);
    sw.inject(a, frame({ dst: B, src: A, tag: { vid: 99 } }), 0); // access port: tagged VID 99 dropped
    expect(sw.x.readyTake(256)).toBe("");
  });

  test("a short take leaves the rest marked for the next one, and marks are not repeated", () => {
    const ids = Array.from({ length: 6 }, (_, i) => sw.addPort(`p${i}`));
    sw.inject(ids[0], frame({ dst: BC, src: A }), 0);
    expect(sw.x.readyCount()).toBe(5);
    expect(sw.x.readyTake(2)).toBe(`${ids[1]},${ids[2]}`);
    expect(sw.x.readyTake(2)).toBe(`${ids[3]},${ids[4]}`);
    for (const id of ids.slice(1, 5)) sw.drain(id, 0);
    sw.inject(ids[0], frame({ dst: BC, src: A }), 0); // p1..p4 are marked again; p5 still is
    expect(sw.x.readyTake(256)).toBe(`${ids[1]},${ids[2]},${ids[3]},${ids[4]},${ids[5]}`);
    expect(sw.x.readyCount()).toBe(0);
  });

  test("queued() still counts every priority", () => {
    const [a, b] = ["a", "b"].map((n) => sw.addPort(n));
    sw.inject(a, frame({ dst: BC, src: A, tag: { vid: 0, pcp: 5 } }), 0);
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    expect(sw.x.queued(b)).toBe(2);
    sw.pop(b, 0);
    expect(sw.x.queued(b)).toBe(1);
  });
});
