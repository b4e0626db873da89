export { crc32 } from "./crc32.js";
export { APPLICATION_ID_NONE, FORMAT_VERSION, FORMAT_VERSION_MIN, HEADER_BYTES } from "./header.js";
export {
  PAGE_NUMBER_MAX,
  PAGE_SIZE_DEFAULT,
  PAGE_SIZE_MAX,
  PAGE_SIZE_MIN,
  PAGE_TRAILER_BYTES,
} from "./page.js";
