/** Node implementation of Moddable's `text/encoder`: Node's own TextEncoder. */
const Encoder = globalThis.TextEncoder;
export default Encoder;
