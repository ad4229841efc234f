/** How a task's log ends, in the agent's own words: a claude session's final result event. */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { agentResult, exitError, exitReason, finalEvent, MAX_RESULT_TEXT } from "../../src/tasks/final-event.ts";
import { tempDir } from "../helpers.ts";

const dir = tempDir("final-event-");
let n = 0;
function log(text: string): string {
  const file = join(dir, `${++n}.log`);
  writeFileSync(file, text);
  return file;
}
const result = (fields: Record<string, unknown>) => JSON.stringify({ type: "result", subtype: "success", num_turns: 1, ...fields });
const reasonOf = (text: string) => exitReason(finalEvent(log(text)));

describe("exit reasons", () => {
  test("a claude result with is_error gives its text's first line, or its subtype, cut at 300 characters", () => {
    expect(reasonOf(`{"type":"system"}\n${result({ is_error: true, result: "API Error: 529 Overloaded\nretry later" })}\n\n`)).toBe("API Error: 529 Overloaded");
    expect(reasonOf(`${result({ is_error: true, subtype: "error_max_turns" })}\r\n`)).toBe("error_max_turns");
    expect(reasonOf(result({ is_error: true, result: "x".repeat(1000) }))).toHaveLength(300);
  });

  test("anything else gives no reason: success, a plain or broken last line, no log", () => {
    for (const text of [result({ is_error: false, result: "Done." }), `${result({ is_error: true, result: "old" })}\nplain text after`, "{broken", "", '{"type":"assistant"}', "[1]", "null"]) {
      expect([text, reasonOf(text)]).toEqual([text, undefined]);
    }
    expect(finalEvent(join(dir, "missing.log"))).toBeUndefined();
  });

  test("exitError: a signal, a code with the reason when there is one", () => {
    const failed = finalEvent(log(result({ is_error: true, result: "Not logged in · Please run /login" })));
    expect(exitError(failed, { exitCode: 1, signal: null })).toBe("Exited with code 1: Not logged in · Please run /login");
    expect(exitError(finalEvent(log("plain")), { exitCode: 3, signal: null })).toBe("Exited with code 3");
    expect(exitError(failed, { exitCode: null, signal: "SIGKILL" })).toBe("Terminated by SIGKILL");
    expect(exitError(failed, { exitCode: null, signal: null })).toBeNull();
  });
});

describe("the agent's result", () => {
  // Cut down from what claude 2.1 writes at the end of a successful run.
  const real = {
    type: "result",
    subtype: "success",
    is_error: false,
    duration_ms: 5230,
    duration_api_ms: 4100,
    num_turns: 3,
    result: "Done: hello.py prints hi.",
    session_id: "f12aa619-ccef-4e0f-b56c-d59a35ae29f2",
    total_cost_usd: 0.0123,
    usage: { input_tokens: 12, cache_creation_input_tokens: 3456, cache_read_input_tokens: 7890, output_tokens: 345, server_tool_use: { web_search_requests: 0 }, service_tier: "standard" },
    modelUsage: {},
    permission_denials: [],
  };

  test("its answer, cost, turns, session and tokens", () => {
    expect(agentResult(finalEvent(log(`{"type":"system"}\n${JSON.stringify(real)}\n`)))).toEqual({
      resultText: "Done: hello.py prints hi.",
      costUsd: 0.0123,
      turns: 3,
      sessionId: "f12aa619-ccef-4e0f-b56c-d59a35ae29f2",
      inputTokens: 12,
      outputTokens: 345,
      cacheReadTokens: 7890,
      cacheCreationTokens: 3456,
    });
  });

  test("nothing from another last line, and null for a field that is missing or not a count", () => {
    const none = { resultText: null, costUsd: null, turns: null, sessionId: null, inputTokens: null, outputTokens: null, cacheReadTokens: null, cacheCreationTokens: null };
    for (const text of ["plain", '{"type":"assistant"}', `${JSON.stringify(real)}\nafter`]) expect(agentResult(finalEvent(log(text)))).toEqual(none);
    expect(agentResult(finalEvent(log(result({ total_cost_usd: "0.1", num_turns: -1, usage: "many", session_id: 7 }))))).toEqual(none);
    // A session id becomes an argument of a continuation's command: one that could pass for an option is none.
    for (const session_id of ["--dangerously-skip-permissions", "-x", "", "a b", "x".repeat(200), "id\n--flag"]) {
      expect([session_id, agentResult(finalEvent(log(result({ session_id })))).sessionId]).toEqual([session_id, null]);
    }
  });

  test("a long answer is kept to 64 KiB, never split inside a character; one up to 1 MiB back is found", () => {
    const long = `${"a".repeat(MAX_RESULT_TEXT - 1)}😀 and more`;
    const kept = agentResult(finalEvent(log(result({ result: long })))).resultText!;
    expect(kept).toBe("a".repeat(MAX_RESULT_TEXT - 1));
    const big = "b".repeat(900 * 1024);
    expect(agentResult(finalEvent(log(`${"x".repeat(2 * 1024 * 1024)}\n${result({ result: big })}`))).resultText).toHaveLength(MAX_RESULT_TEXT);
  });
});
