/** A failed task's error in its own words: the reason a claude session's last event gives. */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { exitError, exitReason } from "../../src/tasks/exit-reason.ts";
import { tempDir } from "../helpers.ts";

const dir = tempDir("exit-reason-");
let n = 0;
function log(text: string): string {
  const file = join(dir, `${++n}.log`);
  writeFileSync(file, text);
  return file;
}
const result = (fields: Record<string, unknown>) => JSON.stringify({ type: "result", subtype: "success", num_turns: 1, ...fields });

describe("exit reasons", () => {
  test("a claude result with is_error gives its text's first line, or its subtype, cut at 300 characters", () => {
    expect(exitReason(log(`{"type":"system"}\n${result({ is_error: true, result: "API Error: 529 Overloaded\nretry later" })}\n\n`))).toBe("API Error: 529 Overloaded");
    expect(exitReason(log(`${result({ is_error: true, subtype: "error_max_turns" })}\r\n`))).toBe("error_max_turns");
    expect(exitReason(log(result({ is_error: true, result: "x".repeat(1000) })))).toHaveLength(300);
  });

  test("anything else gives no reason: success, a plain or broken last line, no log", () => {
    for (const text of [result({ is_error: false, result: "Done." }), `${result({ is_error: true, result: "old" })}\nplain text after`, "{broken", "", '{"type":"assistant"}']) {
      expect([text, exitReason(log(text))]).toEqual([text, undefined]);
    }
    expect(exitReason(join(dir, "missing.log"))).toBeUndefined();
  });

  test("exitError: a signal, a code with the reason when there is one", () => {
    const failed = log(result({ is_error: true, result: "Not logged in · Please run /login" }));
    expect(exitError(failed, { exitCode: 1, signal: null })).toBe("Exited with code 1: Not logged in · Please run /login");
    expect(exitError(log("plain"), { exitCode: 3, signal: null })).toBe("Exited with code 3");
    expect(exitError(failed, { exitCode: null, signal: "SIGKILL" })).toBe("Terminated by SIGKILL");
    expect(exitError(failed, { exitCode: null, signal: null })).toBeNull();
  });
});
