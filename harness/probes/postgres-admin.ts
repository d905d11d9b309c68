// The probe's own superuser connection: PostgreSQL's simple-query protocol over the server's Unix
// socket, with `trust` authentication (the socket lives in the server's private data directory, so
// only root and the server's own user can reach it).
//
// Why not `pg`: the probe runs a handful of fixed statements and reads text results, and the
// project does not depend on `pg` or its types; this is the part of the protocol those need
// (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SIMPLE-QUERY).
import { connect, type Socket } from 'node:net'

export type Row = Record<string, string | null>

interface Pending {
  rows: Row[]
  fields: string[]
  error?: Error
  resolve: (rows: Row[]) => void
  reject: (error: Error) => void
}

const PROTOCOL_3_0 = 196608

/** One admin session. Queries may be issued concurrently; the server answers them in order. */
export class AdminConnection {
  #socket: Socket
  #buffer: Buffer = Buffer.alloc(0)
  // The first entry is the startup exchange; each query adds one, settled by its ReadyForQuery.
  #pending: Pending[] = []
  #closed: Error | undefined

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.on('data', (chunk) => this.#onData(chunk))
    socket.on('error', (error) => this.#fail(error))
    socket.on('close', () => this.#fail(new Error('the admin connection to PostgreSQL closed')))
  }

  static connect(socketPath: string, user: string, database: string): Promise<AdminConnection> {
    const connection = new AdminConnection(connect({ path: socketPath }))
    return new Promise<Row[]>((resolve, reject) => {
      connection.#pending.push({ rows: [], fields: [], resolve, reject })
      const params = ['user', user, 'database', database, 'application_name', 'lambda-harness-probe']
      const body = Buffer.from(`${params.join('\0')}\0\0`)
      const header = Buffer.alloc(8)
      header.writeInt32BE(8 + body.length, 0)
      header.writeInt32BE(PROTOCOL_3_0, 4)
      connection.#socket.write(Buffer.concat([header, body]))
    }).then(
      () => connection,
      (error: unknown) => {
        connection.#socket.destroy()
        throw error
      },
    )
  }

  /** Runs one or more statements; resolves with the rows of the last result set that had any. */
  query(sql: string): Promise<Row[]> {
    if (this.#closed !== undefined) {
      return Promise.reject(this.#closed)
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ rows: [], fields: [], resolve, reject })
      this.#socket.write(message('Q', Buffer.from(`${sql}\0`)))
    })
  }

  /** Sends Terminate and waits for the socket to close. Idempotent. */
  async close(): Promise<void> {
    if (this.#socket.closed) {
      return
    }
    const closed = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()))
    this.#socket.end(message('X', Buffer.alloc(0)))
    await closed
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    while (this.#buffer.length >= 5) {
      const length = this.#buffer.readInt32BE(1)
      if (this.#buffer.length < 1 + length) {
        return
      }
      const type = String.fromCharCode(this.#buffer[0] ?? 0)
      const body = this.#buffer.subarray(5, 1 + length)
      this.#buffer = this.#buffer.subarray(1 + length)
      this.#onMessage(type, body)
    }
  }

  #onMessage(type: string, body: Buffer): void {
    const current = this.#pending[0]
    if (current === undefined) {
      return
    }
    switch (type) {
      case 'R': {
        const code = body.readInt32BE(0)
        if (code !== 0) {
          // 0 is AuthenticationOk; anything else asks for a password we do not have.
          this.#fail(new Error(`PostgreSQL asked the admin connection for authentication (request ${code}); expected trust`))
        }
        return
      }
      case 'T':
        current.fields = readFieldNames(body)
        current.rows = []
        return
      case 'D':
        current.rows.push(readRow(body, current.fields))
        return
      case 'E': {
        const fields = readErrorFields(body)
        current.error ??= Object.assign(new Error(`${fields.S ?? 'ERROR'}: ${fields.M ?? 'unknown error'}`), {
          sqlState: fields.C,
        })
        return
      }
      case 'Z':
        this.#pending.shift()
        if (current.error === undefined) {
          current.resolve(current.rows)
        } else {
          current.reject(current.error)
        }
        return
      default:
        // ParameterStatus, BackendKeyData, CommandComplete, NoticeResponse, EmptyQueryResponse…
        return
    }
  }

  #fail(error: Error): void {
    this.#closed ??= error
    for (const pending of this.#pending.splice(0)) {
      pending.reject(pending.error ?? error)
    }
  }
}

/** Quotes an identifier for SQL text. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** Quotes a string literal for SQL text (standard_conforming_strings is on by default). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5)
  header.write(type, 0, 'latin1')
  header.writeInt32BE(4 + body.length, 1)
  return Buffer.concat([header, body])
}

function readCString(body: Buffer, offset: number): [string, number] {
  const end = body.indexOf(0, offset)
  return [body.toString('utf8', offset, end), end + 1]
}

function readFieldNames(body: Buffer): string[] {
  const count = body.readInt16BE(0)
  const names: string[] = []
  let offset = 2
  for (let i = 0; i < count; i++) {
    const [name, next] = readCString(body, offset)
    names.push(name)
    // table oid (4), column number (2), type oid (4), type size (2), type modifier (4), format (2)
    offset = next + 18
  }
  return names
}

function readRow(body: Buffer, fields: string[]): Row {
  const count = body.readInt16BE(0)
  const row: Row = {}
  let offset = 2
  for (let i = 0; i < count; i++) {
    const length = body.readInt32BE(offset)
    offset += 4
    const name = fields[i] ?? String(i)
    if (length < 0) {
      row[name] = null
    } else {
      row[name] = body.toString('utf8', offset, offset + length)
      offset += length
    }
  }
  return row
}

function readErrorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {}
  let offset = 0
  while (offset < body.length && body[offset] !== 0) {
    const code = String.fromCharCode(body[offset] ?? 0)
    const [value, next] = readCString(body, offset + 1)
    fields[code] = value
    offset = next
  }
  return fields
}
