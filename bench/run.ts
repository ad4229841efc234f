/** npm run bench: every benchmark, each printing its figures and a ratio against a same-run reference. */
import { benchHttp } from "./http.ts";
import { benchSseFanout } from "./sse.ts";
import { benchTaskStart } from "./tasks.ts";
import { benchWsFanout } from "./ws.ts";

const only = Bun.argv[2];
if (!only || only === "http") await benchHttp();
if (!only || only === "tasks") await benchTaskStart();
if (!only || only === "sse") await benchSseFanout(Number(Bun.argv[3] ?? 1000));
if (!only || only === "ws") await benchWsFanout(Number(Bun.argv[3] ?? 1000));
