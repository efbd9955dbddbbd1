/**
 * XS entry for the provisioning bench: the firmware's start-up identity load
 * (src/identity.ts) inside XS, without and with the key-pair and maker
 * signature checks (tweetnacl), over a MemoryStorage holding a provisioned identity.
 */
import { onXsCommand } from '../../tests/xs/commands.js';
import { loadIdentity } from '../../src/identity.js';
import { naclCrypto } from '../../src/nacl-crypto.js';
import { provisioned, type Fixture } from '../../tests/identity.cases.js';

let f: Fixture | undefined;

onXsCommand('setup', () => {
  f = provisioned(11);
  return null;
});
onXsCommand('load', () => loadIdentity(f!.storage).toyId.length);
onXsCommand('load-checked', () => loadIdentity(f!.storage, { crypto: naclCrypto, makerPublicKey: f!.makerPublicKey }).toyId.length);
