/** Files for workflows to load: uploads to a backend's input folder, where LoadImage and its kin read. */
import type { Logger } from "pino";
import { ApiError } from "../http/errors.ts";
import { preview } from "../http/openapi.ts";
import type { Actor } from "../http/types.ts";
import { isSafeSubfolder, SAFE_FILENAME } from "./assets.ts";
import type { ComfyBackend } from "./backend.ts";
import { orRetryLater } from "./backend-errors.ts";

export interface UploadInput {
  image: File;
  subfolder?: string;
  overwrite?: "true" | "false";
}

/**
 * Sends a file to ComfyUI's input folder. Names are checked here as output names are (ComfyUI
 * checks them too, but its answer is a bare 400), and ComfyUI decides the final name: a file of
 * that name already there is kept, and this one saved as "name (1).png", unless `overwrite`.
 */
export async function uploadInput(backend: ComfyBackend, input: UploadInput, who: Actor, logger: Logger) {
  const { image } = input;
  const subfolder = input.subfolder ?? "";
  if (!SAFE_FILENAME.test(image.name)) {
    throw new ApiError(400, `form/image must be sent under a plain file name (no path separators, control characters or leading dot), got ${preview(image.name)}`);
  }
  if (!isSafeSubfolder(subfolder)) throw new ApiError(400, `form/subfolder must be a relative folder without '.' or '..' steps, got ${preview(subfolder)}`);
  if (image.size === 0) throw new ApiError(400, "form/image is empty");
  const saved = await orRetryLater(backend.upload(image, subfolder, input.overwrite === "true"));
  if (typeof saved?.name !== "string" || typeof saved.subfolder !== "string") {
    throw new ApiError(502, `ComfyUI (${backend.name}) answered the upload without the name it saved the file under`);
  }
  logger.info(
    { audit: true, action: "comfyui.upload", reqId: who.reqId, keyId: who.keyId, backend: backend.name, name: saved.name, subfolder: saved.subfolder, size: image.size },
    "input file uploaded",
  );
  return {
    name: saved.name,
    subfolder: saved.subfolder,
    type: "input" as const,
    gpu: backend.name,
    size: image.size,
    path: saved.subfolder ? `${saved.subfolder}/${saved.name}` : saved.name,
  };
}
