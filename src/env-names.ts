/** Environment variable names as settings and providers take them, and the API's own, which no task gets. */
import { z } from "zod";

export const ENV_NAME = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/);

/** A variable's name, or a prefix ending in "*" ("ANTHROPIC_*": every variable whose name starts so). */
export const ENV_NAME_OR_PREFIX = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, 'must be a variable name, or a prefix of one ending in "*"');

/**
 * The API's keys and its webhook secret (with which a task could forge a notification), and the
 * files they may be read from: no task gets them, under any name. Not even the path of a key file:
 * a task has no business reading the API's keys.
 */
export const API_KEY_VARIABLES: ReadonlySet<string> = new Set([
  "MANAGEMENT_API_KEY",
  "MANAGEMENT_API_KEYS",
  "MANAGEMENT_API_KEY_FILE",
  "MANAGEMENT_API_KEYS_FILE",
  "MANAGEMENT_API_READONLY_KEYS",
  "MANAGEMENT_API_READONLY_KEYS_FILE",
  "WEBHOOK_SECRET",
  "WEBHOOK_SECRET_FILE",
  "WEBHOOK_URL",
  "WEBHOOK_URL_FILE",
]);
