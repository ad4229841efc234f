/** The dashboard's reading of log lines: claude's stream-json events as text, anything else as is. */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

// A plain ES module of the dashboard (typed as an embedded file path in src/types.d.ts).
const { readable } = (await import(join(import.meta.dir, "../../src/ui/assets/agent-log.js"))) as { readable: (line: string) => string | null };
const FIXTURE = join(import.meta.dir, "../fixtures/agents/claude-stream.sh");

describe("readable log lines", () => {
  test("a claude session reads as text: what it says, the tools it calls and their answers, how it ended", async () => {
    const lines = (await Bun.file(FIXTURE).text()).split("\n").filter((l) => l.startsWith("{") || l === "plain text from a wrapper");
    expect(lines.map(readable)).toEqual([
      "● session started · model claude-opus-4-8[1m] · acceptEdits mode · f12aa619-ccef-4e0f-b56c-d59a35ae29f2",
      "I'll list the files first.\n▸ Bash: ls -la",
      "  ◂ total 8 (+2 lines)",
      "plain text from a wrapper",
      "▸ Write: /w/t/hello.py",
      "  ✗ Permission denied: Write needs approval",
      "Done: the folder is empty.\nNothing else to do.",
      "■ finished · 3 turns · $0.0123 · 5.2 s\nDone: the folder is empty.",
    ]);
  });

  test("a failed session says so with its reason (as claude 2.1 reports a missing login)", () => {
    const real = '{"type":"result","subtype":"success","is_error":true,"api_error_status":null,"duration_ms":228,"duration_api_ms":0,"num_turns":1,"result":"Not logged in · Please run /login","stop_reason":"stop_sequence","total_cost_usd":0}';
    expect(readable(real)).toBe("■ failed · 1 turn · $0.0000 · 0.2 s\nNot logged in · Please run /login");
    expect(readable('{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":30}')).toBe("■ failed (error_max_turns) · 30 turns");
  });

  test("terminal colour and cursor codes are dropped from plain lines", () => {
    expect(readable("\x1b[32m✓ passed\x1b[0m in \x1b[1;33m2s\x1b[0m")).toBe("✓ passed in 2s");
    expect(readable("\x1b[2K\x1b[1Gprogress 50%")).toBe("progress 50%");
    expect(readable("\x1b]8;;https://x.example\x07link\x1b]8;;\x07 text")).toBe("link text");
  });

  test("a line a progress bar rewrote with carriage returns shows its last state, as a terminal would", () => {
    // tqdm's output with stdout not a terminal: every state, each after a \r, one newline at the end.
    const tqdm = ["", "  0%|          | 0/3 [00:00<?, ?it/s]", " 33%|███▎      | 1/3 [00:01<00:02,  1.00s/it]", "100%|██████████| 3/3 [00:03<00:00,  1.00s/it]"].join("\r");
    expect(readable(tqdm)).toBe("100%|██████████| 3/3 [00:03<00:00,  1.00s/it]");
    expect(readable("\x1b[32mdone\x1b[0m\r")).toBe("done"); // a CRLF line: its \r is no rewrite
    expect(readable("a\rb\r\r")).toBe("b");
    expect(readable("\r")).toBe("");
  });

  test("anything else is left as it is: plain text, other JSON, broken JSON; an empty message shows nothing", () => {
    for (const line of ["hello", "", '{"level":30,"msg":"a pino line"}', '{"type":"stream_event","event":{}}', "{not json", "[1,2]"]) expect(readable(line)).toBe(line);
    expect(readable('{"type":"assistant","message":{"content":[]}}')).toBeNull();
    expect(readable('{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Custom","input":{"x":1}}]}}')).toBe('▸ Custom {"x":1}');
    expect(readable(`{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"${"x".repeat(300)}"}}]}}`)).toHaveLength("▸ Bash: ".length + 160);
  });
});
