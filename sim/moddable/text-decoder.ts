/** Node implementation of Moddable's `text/decoder`: Node's own TextDecoder. */
const Decoder = globalThis.TextDecoder;
export default Decoder;
