/** MQTT topics of one toy (docs/BROKER.md): the toy publishes on `out` and subscribes to `in`. */
export function toyTopics(toyId: string): { in: string; out: string } {
  return { in: `pp/t/${toyId}/in`, out: `pp/t/${toyId}/out` };
}
