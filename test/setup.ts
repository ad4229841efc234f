/** Preloaded by bun test (bunfig.toml): what the whole run needs once. */
import { afterAll } from "bun:test";
import { killLeftoverTasks } from "./helpers.ts";
import { killStartedApis } from "./process.ts";

// A failed test may have left the API it started, or a task, running.
afterAll(() => {
  killStartedApis();
  killLeftoverTasks();
});
