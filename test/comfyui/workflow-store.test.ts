/** The workflow store's outputs table, including databases written by earlier versions. */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { WorkflowStore, type OutputRow } from "../../src/comfyui/workflow-store.ts";
import { tempDir } from "../helpers.ts";

const row = (o: Partial<OutputRow>): OutputRow => ({ filename: "img_00001_.png", subfolder: "", type: "output", workflowId: "w1", backend: "local", size: null, createdAt: 1, ...o });

describe("workflow store outputs", () => {
  test("one name per backend and subfolder is one row each; newest first by name", () => {
    const store = new WorkflowStore(new Database(":memory:"));
    store.addOutput(row({ workflowId: "a", createdAt: 1 }));
    store.addOutput(row({ workflowId: "b", subfolder: "day2", createdAt: 2 }));
    store.addOutput(row({ workflowId: "c", backend: "salad", createdAt: 3 }));
    expect(store.outputsNamed("img_00001_.png").map((o) => o.workflowId)).toEqual(["c", "b", "a"]);
    // The same file recorded again (ComfyUI reused a deleted name) replaces its row.
    store.addOutput(row({ workflowId: "d", createdAt: 4 }));
    expect(store.outputsNamed("img_00001_.png").map((o) => o.workflowId)).toEqual(["d", "c", "b"]);
  });

  test("a database keyed by name and subfolder only is rebuilt once, keeping its rows", () => {
    const path = join(tempDir("wf-store-"), "state.sqlite");
    const old = new Database(path);
    old.exec(`CREATE TABLE comfy_outputs (
      filename TEXT NOT NULL, subfolder TEXT NOT NULL, type TEXT NOT NULL, workflowId TEXT NOT NULL,
      backend TEXT NOT NULL, size INTEGER, createdAt INTEGER NOT NULL, PRIMARY KEY (filename, subfolder, type))`);
    old.query("INSERT INTO comfy_outputs VALUES ('img_00001_.png', '', 'output', 'old', 'local', 12, 5)").run();
    old.close();
    const db = new Database(path);
    const store = new WorkflowStore(db);
    store.addOutput(row({ workflowId: "remote", backend: "salad", createdAt: 6 }));
    expect(store.outputsNamed("img_00001_.png").map((o) => [o.workflowId, o.backend, o.size])).toEqual([["remote", "salad", null], ["old", "local", 12]]);
    expect(store.outputs({ limit: 10 }).outputs.length).toBe(2);
    new WorkflowStore(db); // a second start finds the new key and leaves the rows alone
    expect(store.outputs({ limit: 10 }).outputs.length).toBe(2);
  });

  test("a workflows table from before nodeErrors (and the later columns) gains them, keeping its rows", () => {
    const db = new Database(":memory:");
    db.exec(`CREATE TABLE workflows (
      workflowId TEXT PRIMARY KEY, backend TEXT NOT NULL, priority TEXT NOT NULL, status TEXT NOT NULL,
      submitted INTEGER NOT NULL, number REAL NOT NULL, progress REAL NOT NULL, currentNode TEXT,
      queuedAt INTEGER NOT NULL, startTime INTEGER, completionTime INTEGER, error TEXT,
      prompt TEXT NOT NULL, uiWorkflow TEXT, outputs TEXT NOT NULL)`);
    db.exec("INSERT INTO workflows VALUES ('w1', 'local', 'normal', 'completed', 1, 1, 100, NULL, 1, 1, 2, NULL, '{}', NULL, '[]')");
    const store = new WorkflowStore(db);
    expect(store.get("w1")).toMatchObject({ status: "completed", nodeErrors: null, timeoutMs: null, webhookUrl: null, labels: null, cancelRequestedAt: null });
  });
});
