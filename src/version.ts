import pkg from "../package.json" with { type: "json" };

/** One version string everywhere: package.json's. */
export const VERSION: string = pkg.version;
export const API_NAME = "Agentic Flow Management API";
