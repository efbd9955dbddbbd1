/**
 * MQTT topics of one toy (docs/BROKER.md): the toy publishes on `out` and subscribes
 * to `in`; it also publishes enrollment notices for the relay on `ctl` (docs/BROKER.md
 * "Phone enrollment"), a topic only that toy may write and only the relay's service reads.
 */
export function toyTopics(toyId: string): { in: string; out: string; ctl: string } {
  return { in: `pp/t/${toyId}/in`, out: `pp/t/${toyId}/out`, ctl: `pp/t/${toyId}/ctl` };
}
