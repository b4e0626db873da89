// The package entry for Node: the platform-neutral engine plus the Node file system.
// A browser entry will export the same engine with its own VFS.

export { type ErrorCode, isPagekvError, PagekvError } from "./errors.js";
export * from "./format/index.js";
export * from "./pager/index.js";
export * from "./vfs/index.js";
export { NODEFS_FILE_BYTES_MAX, NodeFS } from "./vfs/node/nodefs.js";
