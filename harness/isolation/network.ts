// A bwrap sandbox's own network (bwrap --unshare-net): a loopback of its own, as each Lambda
// execution environment has, so fixed ports (an extension's sandbox:4243, a proxy's 9009) never
// collide between sandboxes and no sandbox can reach another's API or the host's services.
//
// The harness stays on the host and still reaches inside with no byte relayed: the holder
// (network.c) makes TCP sockets in the sandbox's namespace and hands them over, and a socket
// stays in the namespace it was made in whoever holds it. So the API server accepts the
// processes' own connections on 127.0.0.1:9001 inside (the peer is the real client: its port
// is the one in the sandbox's /proc/net/tcp), and a Telemetry delivery connects from inside to
// the subscriber's port. Only the probes' servers (PostgreSQL, the sink), which are other
// processes on the host, are relayed, byte for byte and end for end.
import net, { type Server, type Socket } from 'node:net'
import type { SocketHandle } from './holder.js'

/** The holder's side: sockets made inside the sandbox's network namespace. */
export interface SocketMaker {
  socket(port?: number): Promise<SocketHandle>
  /** The socket inode of 127.0.0.1:`localPort` → 127.0.0.1:`remotePort` inside, if there is one. */
  inode(localPort: number, remotePort: number): Promise<string | undefined>
}

export class SandboxNetwork {
  /** The namespace's TCP socket table (/proc/<a pid inside>/net/tcp): where its connections are listed. */
  readonly tcpTable: string
  readonly #maker: SocketMaker
  readonly #relays: Server[] = []
  readonly #relayed = new Set<Socket>()
  #closed = false

  constructor(maker: SocketMaker, pidInside: number) {
    this.#maker = maker
    this.tcpTable = `/proc/${pidInside}/net/tcp`
  }

  /** A listening socket on 127.0.0.1:`port` inside, for net.Server#listen(handle). */
  listen(port: number): Promise<SocketHandle> {
    return this.#maker.socket(port)
  }

  /**
   * The inode of the connection from 127.0.0.1:`localPort` to 127.0.0.1:`remotePort` inside, by an
   * exact lookup (no walk of the socket table), or undefined.
   */
  inodeOf(localPort: number, remotePort: number): Promise<string | undefined> {
    return this.#maker.inode(localPort, remotePort)
  }

  /** A connection to 127.0.0.1:`port` inside the sandbox (`sandbox.localdomain` there). */
  async connect(port: number, signal?: AbortSignal): Promise<Socket> {
    signal?.throwIfAborted()
    const handle = await this.#maker.socket()
    // A Socket built on a handle connects that handle (net.js connect() keeps an existing _handle).
    const socket = new net.Socket({ handle } as net.SocketConstructorOpts)
    if (signal?.aborted === true) {
      // Aborted while the holder made the socket: an abort listener added now would never fire.
      socket.destroy()
      throw signal.reason instanceof Error ? signal.reason : new Error('aborted')
    }
    return new Promise<Socket>((resolve, reject) => {
      const fail = (error: Error) => {
        signal?.removeEventListener('abort', onAbort)
        socket.destroy()
        reject(error)
      }
      const onAbort = () => fail(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
      signal?.addEventListener('abort', onAbort, { once: true })
      socket.once('error', fail)
      socket.connect(port, '127.0.0.1', () => {
        signal?.removeEventListener('abort', onAbort)
        socket.removeListener('error', fail)
        resolve(socket)
      })
    })
  }

  /**
   * Makes the host's 127.0.0.1:`port` (a probe's server) reachable at 127.0.0.1:`port` inside, so
   * DATABASE_URL and SINK_URL read the same in both modes.
   */
  async relay(port: number): Promise<void> {
    const handle = await this.listen(port)
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (inside) => this.#relayConnection(inside, port))
    this.#relays.push(server)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(handle, () => {
        server.removeListener('error', reject)
        resolve()
      })
    })
    if (this.#closed) {
      server.close()
    }
  }

  /**
   * Each end as the other side made it: a FIN as a FIN (a client that vanished is EOF to
   * PostgreSQL, which logs it as dropped, never a Terminate), a reset as a reset.
   */
  #relayConnection(inside: Socket, port: number): void {
    const host = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true, noDelay: true })
    for (const socket of [inside, host]) {
      this.#relayed.add(socket)
      socket.once('close', () => this.#relayed.delete(socket))
    }
    inside.pipe(host)
    host.pipe(inside)
    inside.on('error', () => host.resetAndDestroy())
    host.on('error', () => inside.resetAndDestroy())
    if (this.#closed) {
      inside.resetAndDestroy()
    }
  }

  /** Stops relaying: the relays' listeners and connections are closed (the sandbox is over). */
  close(): void {
    this.#closed = true
    for (const server of this.#relays.splice(0)) {
      server.close()
    }
    for (const socket of this.#relayed) {
      socket.destroy()
    }
    this.#relayed.clear()
  }
}
