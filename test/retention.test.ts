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

  test("a sweep that runs on (deleting files) and then fails is reported too, not an unhandled rejection", async () => {
    const reported: string[] = [];
    const timer = startSweeping(
      50,
      async () => {
        await Bun.sleep(5);
        throw new Error("EIO: i/o error, rmdir");
      },
      (err) => reported.push((err as Error).message),
    );
    clearInterval(timer);
    await Bun.sleep(20);
    expect(reported).toEqual(["EIO: i/o error, rmdir"]);
  });
});
