/** The retention sweeper shared by tasks and workflows. */
import { describe, expect, test } from "bun:test";
import { startSweeping } from "../src/retention.ts";

describe("startSweeping", () => {
  test("sweeps at once; a sweep that throws is reported, not thrown (it would stop the start, or end the server)", () => {
    const reported: string[] = [];
    let sweeps = 0;
    const timer = startSweeping(
      50,
      () => {
        sweeps++;
        throw new Error("SQLITE_FULL: database or disk is full");
      },
      (err) => reported.push((err as Error).message),
    );
    clearInterval(timer);
    expect([sweeps, reported]).toEqual([1, ["SQLITE_FULL: database or disk is full"]]);
  });
});
