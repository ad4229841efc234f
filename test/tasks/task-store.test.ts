/** The task store over databases written by earlier versions. */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase } from "../../src/db.ts";
import { TaskStore } from "../../src/tasks/task-store.ts";
import { resultView, taskView } from "../../src/tasks/task-view.ts";
import { tempDir } from "../helpers.ts";

test("a tasks table from the first version gains the later columns; its tasks read as before, with no result", () => {
  const db = openDatabase(join(tempDir("task-store-"), "state.sqlite"));
  // As 31b2181 created it: no time limit, no agent result.
  db.exec(`CREATE TABLE tasks (
    taskId TEXT PRIMARY KEY, agent TEXT NOT NULL, task TEXT NOT NULL, provider TEXT NOT NULL,
    status TEXT NOT NULL, startTime INTEGER NOT NULL, exitTime INTEGER, exitCode INTEGER,
    signal TEXT, error TEXT, taskDir TEXT NOT NULL, logFile TEXT NOT NULL, pid INTEGER,
    stopRequestedAt INTEGER, createdBy TEXT)`);
  db.exec(`INSERT INTO tasks VALUES ('old', 'a', 'do it', 'claude-flow', 'completed', 1000, 2000, 0, NULL, NULL, '/w/old', '/l/old.log', NULL, NULL, 'k1')`);
  const store = new TaskStore(db);
  const old = store.get("old")!;
  expect(taskView(old, { queued: [] })).toMatchObject({ taskId: "old", status: "completed", timeoutSeconds: null, continuedFrom: null, result: null });
  store.update("old", { costUsd: 0.5, turns: 2, sessionId: "s", resultText: "ok" });
  expect(resultView(store.get("old")!, true)).toMatchObject({ text: "ok", costUsd: 0.5, turns: 2, sessionId: "s" });
  // Opening it again changes nothing.
  expect(new TaskStore(db).get("old")!.costUsd).toBe(0.5);
  db.close();
});
