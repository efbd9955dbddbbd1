/**
 * XS bench entry for the toy's MQTT path: session + outbox + inbox + codec over a
 * socket that only records what is written (the broker's work is not counted), on a
 * ManualClock and a MemoryStorage. Commands (tests/xs/commands.ts):
 *   setup           → connects and goes online (CONNACK, SUBACK injected)
 *   publish         → one 3000-byte chunk: outbox write, PUBLISH encode and write, PUBACK in, outbox remove
 *   receive         → one 3000-byte PUBLISH in: parse, dedupe digest, inbox write, PUBACK out, consumer confirm
 *   encode / parse  → the codec alone on a 3000-byte PUBLISH
 */
import { onXsCommand } from '../../tests/xs/commands.js';
import { Counters } from '../../src/counters.js';
import { Inbox } from '../../src/inbox.js';
import { MqttParser, encode, encodePacket } from '../../src/mqtt-codec.js';
import { MqttSession } from '../../src/mqtt-session.js';
import { Outbox } from '../../src/outbox.js';
import type { PortStatus, SocketEvent, SocketPort } from '../../hal/ports.js';
import { ManualClock } from '../../tests/fakes/manual-clock.js';
import { MemoryStorage } from '../../tests/fakes/memory-storage.js';
import { FakeRandom } from '../../tests/fakes/fake-random.js';

const TOY = '0123456789abcdef0123456789abcdef';
const IN = `pp/t/${TOY}/in`;
const OUT = `pp/t/${TOY}/out`;
const CHUNK = 3000;

class RecordingSocket implements SocketPort {
  handler: (e: SocketEvent) => void = () => undefined;
  last = new Uint8Array(0);
  writes = 0;
  connect(): PortStatus {
    return 'OK';
  }
  write(bytes: Uint8Array): PortStatus {
    this.last = bytes.slice(0, 64); // enough to read a PUBLISH's id
    this.writes++;
    return 'OK';
  }
  close(): void {}
  onEvent(h: (e: SocketEvent) => void): void {
    this.handler = h;
  }
}

const clock = new ManualClock();
const storage = new MemoryStorage();
const counters = new Counters();
const socket = new RecordingSocket();
const outbox = new Outbox({ storage, counters });
const inbox = new Inbox({ storage, counters });
const session = new MqttSession({
  socket, clock, random: new FakeRandom(1), host: 'h', port: 1, clientId: TOY, username: TOY, password: 'pw',
  subscriptions: [IN], outbox, inbox, counters,
});
inbox.setConsumer((m) => inbox.confirm(m.id));
const payload = new Uint8Array(CHUNK);
for (let i = 0; i < CHUNK; i++) payload[i] = (i * 7) & 255;
const pubackBuf = new Uint8Array(4);
let rxCount = 0;
const rxBytes = encode({ cmd: 'publish', topic: IN, payload, qos: 1, dup: false, retain: false, messageId: 1 });
const codecBuf = new Uint8Array(4200);
const parser = new MqttParser({ maxPacketBytes: 4200, onPacket: () => undefined });

onXsCommand('setup', () => {
  session.start();
  socket.handler({ kind: 'connect' });
  socket.handler({ kind: 'data', data: encode({ cmd: 'connack', sessionPresent: false, returnCode: 0 }) });
  const sub = socket.last;
  socket.handler({ kind: 'data', data: encode({ cmd: 'suback', messageId: (sub[2]! << 8) | sub[3]!, granted: [1] }) });
  return session.state;
});

onXsCommand('publish', () => {
  session.send(OUT, payload);
  const w = socket.last; // PUBLISH: header(1) + remaining length(2) + topic len(2) + topic + id
  const tl = (w[3]! << 8) | w[4]!;
  const idAt = 5 + tl;
  pubackBuf[0] = 0x40; pubackBuf[1] = 2; pubackBuf[2] = w[idAt]!; pubackBuf[3] = w[idAt + 1]!;
  socket.handler({ kind: 'data', data: pubackBuf });
  return outbox.count();
});

onXsCommand('receive', () => {
  rxCount++;
  // a distinct chunk each time (a new nonce in real life): change two payload bytes and the id
  const n = rxBytes.length;
  rxBytes[n - 1] = rxCount & 255;
  rxBytes[n - 2] = (rxCount >> 8) & 255;
  const idAt = 3 + 2 + IN.length;
  rxBytes[idAt] = ((rxCount % 65535) + 1) >> 8;
  rxBytes[idAt + 1] = ((rxCount % 65535) + 1) & 255;
  socket.handler({ kind: 'data', data: rxBytes });
  return inbox.count();
});

onXsCommand('encode', () => encodePacket({ cmd: 'publish', topic: OUT, payload, qos: 1, dup: false, retain: false, messageId: 7 }, codecBuf, 0));
onXsCommand('parse', () => {
  parser.push(rxBytes);
  return 1;
});
onXsCommand('counters', () => counters.snapshot());
