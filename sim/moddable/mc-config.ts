/**
 * Node implementation of Moddable's `mc/config`: the manifest's "config"
 * (top level + esp32 platform) with file.root "/" (the sim file system maps
 * "/" to board.fsRoot()). A mutable object: the simulator may override pins.
 */
import { deviceConfig } from './manifest-config.js';

const config = deviceConfig as { file: { root: string } } & Record<string, any>;
export default config;
