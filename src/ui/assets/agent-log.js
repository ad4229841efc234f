// Log lines as a person reads them. The claude CLI (the default provider) writes its session as
// stream-json, one event per line; shown raw, a log is a wall of JSON. Any other line is kept as is,
// less the terminal's colour and cursor codes that a CLI may write even into a file.

const MAX = 160;
/** ANSI escape sequences: CSI (colours, cursor moves) and OSC (titles, links). */
const ANSI = /\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g;
const clip = (s) => (s.length > MAX ? `${s.slice(0, MAX - 1)}…` : s);

/** The first line of a text, clipped, and how many lines followed it. */
function firstLine(text) {
  const lines = String(text).trimEnd().split("\n");
  return clip(lines[0] ?? "") + (lines.length > 1 ? ` (+${lines.length - 1} lines)` : "");
}

/** What a tool was asked to do, by the input field that says most. */
function toolCall(block) {
  const input = block.input ?? {};
  const key = ["command", "file_path", "path", "pattern", "url", "query", "description", "prompt"].find((k) => typeof input[k] === "string");
  return `▸ ${block.name}${key ? `: ${firstLine(input[key])}` : ` ${clip(JSON.stringify(input))}`}`;
}

/** A tool's answer: its text (first line), or what else it holds. */
function toolResult(block) {
  const parts = typeof block.content === "string" ? [block.content] : (block.content ?? []).map((c) => (c.type === "text" ? c.text : `[${c.type}]`));
  return `  ${block.is_error ? "✗" : "◂"} ${firstLine(parts.join("\n")) || "(empty)"}`;
}

function contentLines(content) {
  if (typeof content === "string") return [content];
  return (content ?? []).map((b) => {
    if (b.type === "text") return b.text;
    if (b.type === "tool_use") return toolCall(b);
    if (b.type === "tool_result") return toolResult(b);
    if (b.type === "thinking") return `  (thinking) ${firstLine(b.thinking ?? "")}`;
    return `  [${b.type}]`;
  });
}

function resultLine(e) {
  const facts = [typeof e.num_turns === "number" && `${e.num_turns} turn${e.num_turns === 1 ? "" : "s"}`, typeof e.total_cost_usd === "number" && `$${e.total_cost_usd.toFixed(4)}`, typeof e.duration_ms === "number" && `${(e.duration_ms / 1000).toFixed(1)} s`].filter(Boolean);
  const head = `■ ${e.is_error ? "failed" : "finished"}${e.subtype && e.subtype !== "success" ? ` (${e.subtype})` : ""}${facts.length ? ` · ${facts.join(" · ")}` : ""}`;
  return typeof e.result === "string" && e.result ? `${head}\n${e.result}` : head;
}

/**
 * A plain line as a terminal leaves it: a line that rewrote itself with carriage returns (a progress
 * bar: tqdm, curl, pip) shows its last state, not every state run together; colour codes go.
 */
function plain(line) {
  let text = line;
  if (text.includes("\r")) {
    text = text.replace(/\r+$/, ""); // a CRLF line ending is no rewrite
    text = text.slice(text.lastIndexOf("\r") + 1);
  }
  return text.includes("\x1b") ? text.replace(ANSI, "") : text;
}

/**
 * The line as shown: a claude stream-json event as text (null when it shows nothing, such as a
 * message with no content), any other line unchanged.
 */
export function readable(line) {
  if (!line.startsWith("{")) return plain(line);
  let e;
  try {
    e = JSON.parse(line);
  } catch {
    return line;
  }
  switch (e?.type) {
    case "system":
      // The session id is what `claude --resume` takes.
      if (e.subtype === "init") return `● session started · model ${e.model ?? "?"}${e.permissionMode ? ` · ${e.permissionMode} mode` : ""}${e.session_id ? ` · ${e.session_id}` : ""}`;
      return `● ${e.subtype ?? "system"}`;
    case "assistant":
    case "user": {
      const lines = contentLines(e.message?.content);
      return lines.length ? lines.join("\n") : null;
    }
    case "result":
      return resultLine(e);
    default:
      return line;
  }
}
