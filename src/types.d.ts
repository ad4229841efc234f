// Files imported `with { type: "file" }` are paths (embedded in the compiled binary).
declare module "*.css" {
  const path: string;
  export default path;
}
declare module "*.png" {
  const path: string;
  export default path;
}
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const path: string;
  export default path;
}
// The dashboard's modules (src/ui/assets).
declare module "*/app.js" {
  const path: string;
  export default path;
}
declare module "*/client.js" {
  const path: string;
  export default path;
}
declare module "*/gallery.js" {
  const path: string;
  export default path;
}
declare module "*/queue.js" {
  const path: string;
  export default path;
}
declare module "*/agent-log.js" {
  const path: string;
  export default path;
}
declare module "*/cells.js" {
  const path: string;
  export default path;
}
declare module "*/task-log.js" {
  const path: string;
  export default path;
}
declare module "*/models.js" {
  const path: string;
  export default path;
}
