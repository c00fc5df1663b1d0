/**
 * A round-robin TCP proxy on loopback: each new client connection goes to the next
 * upstream port in turn and bytes are copied both ways until either side closes. Enough
 * to put several prefect-lite replicas behind one PREFECT_API_URL (HTTP keep-alive and
 * websockets included, since it never looks inside the stream).
 */
import type { Socket, TCPSocketListener } from "bun";

export interface TcpProxy {
  port: number;
  /** How many connections went to each upstream, in the order given. */
  connections: number[];
  stop(): void;
}

interface ClientState {
  upstream: Socket<UpstreamState> | null;
  /** What the client sent before the upstream connection opened. */
  pending: Uint8Array[];
  closed: boolean;
}

interface UpstreamState {
  client: Socket<ClientState>;
}

/** Writes all of `data`, keeping what the socket could not take yet for its drain event. */
function forward(to: Socket<unknown>, data: Uint8Array, backlog: Map<Socket<unknown>, Uint8Array[]>): void {
  const queued = backlog.get(to);
  if (queued) {
    queued.push(data);
    return;
  }
  const written = to.write(data);
  if (written < data.length) backlog.set(to, [data.subarray(written)]);
}

function drain(socket: Socket<unknown>, backlog: Map<Socket<unknown>, Uint8Array[]>): void {
  const queued = backlog.get(socket);
  if (!queued) return;
  while (queued.length > 0) {
    const chunk = queued[0]!;
    const written = socket.write(chunk);
    if (written < chunk.length) {
      queued[0] = chunk.subarray(written);
      return;
    }
    queued.shift();
  }
  backlog.delete(socket);
}

export function startTcpProxy(upstreamPorts: number[], host = "127.0.0.1"): TcpProxy {
  let next = 0;
  const connections = upstreamPorts.map(() => 0);
  const backlog = new Map<Socket<unknown>, Uint8Array[]>();
  const listener: TCPSocketListener<ClientState> = Bun.listen<ClientState>({
    hostname: host,
    port: 0,
    socket: {
      open(client) {
        client.data = { upstream: null, pending: [], closed: false };
        const index = next++ % upstreamPorts.length;
        connections[index]! += 1;
        void Bun.connect<UpstreamState>({
          hostname: host,
          port: upstreamPorts[index]!,
          data: { client },
          socket: {
            open(upstream) {
              if (client.data.closed) {
                upstream.end();
                return;
              }
              client.data.upstream = upstream;
              for (const chunk of client.data.pending.splice(0)) forward(upstream, chunk, backlog);
            },
            data(upstream, data) {
              forward(upstream.data.client, data, backlog);
            },
            drain(upstream) {
              drain(upstream, backlog);
            },
            close(upstream) {
              backlog.delete(upstream);
              upstream.data.client.end();
            },
            error(upstream) {
              upstream.data.client.end();
            },
          },
        }).catch(() => client.end());
      },
      data(client, data) {
        if (client.data.upstream) forward(client.data.upstream, data, backlog);
        else client.data.pending.push(new Uint8Array(data));
      },
      drain(client) {
        drain(client, backlog);
      },
      close(client) {
        client.data.closed = true;
        backlog.delete(client);
        client.data.upstream?.end();
      },
    },
  });
  return { port: listener.port, connections, stop: () => listener.stop(true) };
}
