/** PROVIDERS_FILE parsing and provider lookup. */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_PROVIDERS, loadProviders, providerNamed } from "../../src/tasks/providers.ts";
import { tempDir } from "../helpers.ts";

const file = (content: string) => {
  const path = join(tempDir("providers-"), "providers.json");
  writeFileSync(path, content);
  return path;
};

describe("providers", () => {
  test("a name is found only when configured: Object.prototype's names are no providers", () => {
    for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]) expect(providerNamed(DEFAULT_PROVIDERS, name)).toBeUndefined();
    expect(providerNamed(DEFAULT_PROVIDERS, "demo")).toBe(DEFAULT_PROVIDERS.demo!);
  });

  test("PROVIDERS_FILE adds and overrides; a provider may be called toString", () => {
    const providers = loadProviders(file(JSON.stringify({ toString: { command: ["echo", "{task}"] }, demo: { command: ["true"] } })));
    expect(providerNamed(providers, "toString")).toEqual({ command: ["echo", "{task}"], env: [], description: "" });
    expect(providerNamed(providers, "demo")!.command).toEqual(["true"]);
    expect(providerNamed(providers, "gemini")).toBe(DEFAULT_PROVIDERS.gemini!);
  });

  test("a name that is not a plain word is a start error naming it", () => {
    // "__proto__" would otherwise replace the parsed object's prototype and vanish without a word.
    expect(() => loadProviders(file('{"__proto__": {"command": ["sh"]}}'))).toThrow("PROVIDERS_FILE: __proto__: a provider name is a letter or digit");
    expect(() => loadProviders(file('{"my tool": {"command": ["sh"]}}'))).toThrow("PROVIDERS_FILE: my tool: a provider name");
    expect(() => loadProviders(file('{"ok": {"command": []}}'))).toThrow("PROVIDERS_FILE: ok.command:");
  });
});
