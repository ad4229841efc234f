import { afterAll, expect, test } from "bun:test";
import { AUTH, testApp } from "./helpers.ts";
import { ensureProgram } from "./debian.ts";

const t = testApp();
afterAll(() => t.close());

test("every family is registered up front, with the spec's names and buckets", async () => {
  const text = await (await t.request("/metrics")).text();
  for (const family of [
    "http_request_duration_seconds histogram", "http_requests_total counter", "api_errors_total counter",
    "active_tasks_total gauge", "provider_active_tasks gauge", "completed_tasks_total counter", "tasks_stopped_by_limit_total counter", "task_duration_seconds histogram",
    "agent_cost_usd_total counter", "agent_tokens_total counter", "queued_tasks gauge",
    "mcp_tool_calls_total counter", "mcp_tool_duration_seconds histogram",
    "comfyui_workflow_total counter", "comfyui_workflow_duration_seconds histogram", "comfyui_workflow_errors_total counter",
    "comfyui_queue_length gauge", "comfyui_gpu_utilization gauge", "comfyui_vram_usage_bytes gauge",
    "process_cpu_seconds_total counter",
  ]) expect(text).toContain(`# TYPE ${family}`);
});

test("HTTP metrics are labelled with the route pattern; unmatched paths share one label", async () => {
  await t.request("/v1/tasks/00000000-0000-4000-8000-000000000001", { headers: AUTH });
  await t.request("/v1/tasks/00000000-0000-4000-8000-000000000002", { headers: AUTH });
  for (let i = 0; i < 5; i++) await t.request(`/random-${i}`, { headers: AUTH });
  const text = await (await t.request("/metrics")).text();
  expect(text).toContain('http_requests_total{method="GET",route="/v1/tasks/:taskId",status_code="404"} 2');
  expect(text).toContain('http_requests_total{method="GET",route="unmatched",status_code="404"} 5');
  expect(text).not.toContain("random-");
  expect(text).toContain('http_request_duration_seconds_bucket{le="0.015",method="GET",route="/v1/tasks/:taskId",status_code="404"}');
  expect(text).toContain('api_errors_total{error_type="not_found",route="unmatched"} 5');
});

test("promtool check metrics: only the lint the spec's own gauge name causes", async () => {
  const promtool = ensureProgram("promtool", "prometheus");
  await t.request("/v1/tasks", { headers: AUTH });
  const text = await (await t.request("/metrics")).text();
  const run = Bun.spawnSync([promtool, "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const problems = (run.stdout.toString() + run.stderr.toString()).trim().split("\n").filter(Boolean);
  expect(problems).toEqual(['active_tasks_total non-counter metrics should not have "_total" suffix']);
}, 300_000);
