/** The in-place HTTP request families must read exactly as prom-client's own classes would. */
import { expect, test } from "bun:test";
import { Counter, Histogram, Registry } from "prom-client";
import { DURATION_BUCKETS, RequestMetrics } from "../src/request-metrics.ts";

const observations: [string, string, number, number][] = [
  ["GET", "/health", 200, 0.0004],
  ["GET", "/health", 200, 0.001], // on a bound: counted in that bucket, as Prometheus' le means
  ["GET", "/health", 200, 0.003],
  ["GET", "/v1/tasks/:taskId", 404, 0.02],
  ["POST", "/v1/tasks", 202, 7.5], // above every bound: +Inf only
  ["GET", "unmatched", 404, 0.2],
];

test("exposition is identical to prom-client's Histogram and Counter fed the same requests", async () => {
  const ours = new Registry();
  const metrics = new RequestMetrics(ours);
  const reference = new Registry();
  const labelNames = ["method", "route", "status_code"] as const;
  const histogram = new Histogram({ name: "http_request_duration_seconds", help: "Duration of HTTP requests in seconds", labelNames, buckets: [...DURATION_BUCKETS], registers: [reference] });
  const counter = new Counter({ name: "http_requests_total", help: "Total number of HTTP requests", labelNames, registers: [reference] });
  for (const [method, route, status, seconds] of observations) {
    metrics.record(method, route, status, seconds);
    histogram.observe({ method, route, status_code: String(status) }, seconds);
    counter.inc({ method, route, status_code: String(status) });
  }
  const text = await ours.metrics();
  expect(text).toBe(await reference.metrics());
  expect(text).toContain('http_request_duration_seconds_bucket{le="0.001",method="GET",route="/health",status_code="200"} 2');
  expect(text).toContain('http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/v1/tasks",status_code="202"} 1');
  expect(text).toContain('http_requests_total{method="GET",route="/health",status_code="200"} 3');

  ours.resetMetrics();
  expect(await ours.metrics()).not.toContain("route=");
});
