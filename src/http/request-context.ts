/** Request ids: one per request, echoed in the response, its log lines and its error body. */
const VALID_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Keeps a valid incoming `x-request-id`, or makes a new one. */
export function requestIdFrom(incoming: string | null | undefined): string {
  return incoming && VALID_ID.test(incoming) ? incoming : crypto.randomUUID();
}
