// OTLP/HTTP export of a run's spans (record/otlp-spans.ts) when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, with OpenTelemetry's own SDK and JSON exporter,
// which read the endpoint, headers and compression from the environment as every OTel SDK does.
// The packages are imported only then: a run without the variable loads none of them.
import type { HrTime } from '@opentelemetry/api'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base'
import type { SpanDescription } from './record/otlp-spans.js'
import type { TraceSection } from './record/trace.js'

/** The most the export may hold the CLI up, collector down or silent: flush, retries and shutdown. */
export const OTLP_EXPORT_CAP_MS = 5000
// The exporter's own deadline for a batch, retries included (its default is 10 s): under the cap.
const EXPORT_TIMEOUT_MS = 4000

export function otlpEndpoint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined
}

function hrTime(epochMs: number): HrTime {
  const seconds = Math.floor(epochMs / 1000)
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)]
}

/** Sends the sections' spans when the environment names an endpoint; warns once if they did not get there. */
export async function exportOtlpIfConfigured(sections: readonly TraceSection[], warn: (message: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const endpoint = otlpEndpoint(env)
  if (endpoint === undefined || sections.length === 0) {
    return
  }
  let timer: NodeJS.Timeout | undefined
  const cap = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${OTLP_EXPORT_CAP_MS / 1000} s`), OTLP_EXPORT_CAP_MS)
  })
  const failure = await Promise.race([sendSpans(sections), cap])
    .catch((error: unknown) => String(error))
    .finally(() => clearTimeout(timer))
  if (failure !== undefined) {
    warn(`OTLP export to ${endpoint} failed (the spans are not there): ${failure}`)
  }
}

/** Resolves with the first export failure, or undefined when every batch was accepted. */
async function sendSpans(sections: readonly TraceSection[]): Promise<string | undefined> {
  const [{ recordSpans }, api, { BasicTracerProvider, BatchSpanProcessor }, { resourceFromAttributes }, { OTLPTraceExporter }] = await Promise.all([
    import('./record/otlp-spans.js'),
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ])
  let failure: string | undefined
  const inner = new OTLPTraceExporter({ timeoutMillis: EXPORT_TIMEOUT_MS })
  // The batch processor drops a failed export silently (diag only): this wrapper keeps the reason.
  const exporter: SpanExporter = {
    export: (spans: ReadableSpan[], done: Parameters<SpanExporter['export']>[1]) =>
      inner.export(spans, (result) => {
        if (result.code !== 0) {
          failure ??= result.error?.message ?? 'export failed'
        }
        done(result)
      }),
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush(),
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'lambda-harness' }),
    // Every timeline entry is an event of its process's span; the timeline caps output lines itself.
    spanLimits: { eventCountLimit: 100_000, attributeCountLimit: 128 },
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 100_000, maxExportBatchSize: 512, exportTimeoutMillis: EXPORT_TIMEOUT_MS })],
  })
  const tracer = provider.getTracer('lambda-harness')
  const emit = (description: SpanDescription, parent: ReturnType<typeof api.trace.setSpan> | undefined) => {
    const span = tracer.startSpan(description.name, { startTime: hrTime(description.startEpochMs), attributes: description.attributes }, parent)
    for (const event of description.events) {
      span.addEvent(event.name, event.attributes, hrTime(event.atEpochMs))
    }
    if (description.error !== undefined) {
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: description.error })
    }
    const context = api.trace.setSpan(api.ROOT_CONTEXT, span)
    for (const child of description.children) {
      emit(child, context)
    }
    span.end(hrTime(description.endEpochMs))
  }
  for (const section of sections) {
    emit(recordSpans(section), undefined)
  }
  // forceFlush rejects with the processors' errors (an array); the wrapper has the first in words.
  const flushed = await provider.forceFlush().then(
    () => undefined,
    (error: unknown) => failure ?? String(error),
  )
  await provider.shutdown()
  return failure ?? flushed
}
