/** The pipeline health panel of the fleet page (GET /api/v1/pipeline/health). */
import { api } from './api.js';
import { el, h, section } from './dom.js';
import { formatAge, formatNumber, time } from './format.js';

export function healthPanel() {
  const part = section('health', 'Pipeline health', { className: 'health' });
  async function load() {
    const health = await api('pipeline/health');
    const newest = el(
      'dd',
      { id: 'health-newest', 'data-value': health.freshness.newestEvent ?? '' },
      time(health.freshness.newestEvent),
    );
    const dead = el(
      'dd',
      { id: 'health-dead-letters', 'data-value': String(health.deadLetters.total) },
      formatNumber(health.deadLetters.total, 0),
    );
    // A record refused by two stages is one dead letter in the total and one in each stage.
    const stages =
      health.deadLetters.byStage.map((s) => `${s.stage} ${formatNumber(s.records, 0)}`).join(' · ') || '–';
    const lag = health.consumerLag.available
      ? health.consumerLag.groups.map((g) =>
          el(
            'li',
            { 'data-group': g.groupId, 'data-value': g.lag },
            `${g.groupId}: ${formatNumber(g.lag, 0)}${g.error ? ` (${g.error})` : ''}`,
          ),
        )
      : [el('li', { class: 'muted' }, health.consumerLag.reason)];
    const pressure = health.backpressure.available
      ? health.backpressure.services.map((s) =>
          s.error
            ? el('li', { class: 'error', 'data-service': s.service }, `${s.service}: ${s.error}`)
            : el(
                'li',
                { class: `state-${s.state}`, 'data-service': s.service, 'data-state': s.state },
                `${s.service}: ${s.state}, ${formatNumber(s.pausedPartitions, 0)} paused, ${formatNumber(s.bufferedRows, 0)} rows buffered`,
              ),
        )
      : [el('li', { class: 'muted' }, health.backpressure.reason)];
    const codes = health.deadLetters.byCode.map((c) =>
      el('li', {}, `${c.code} (${c.stage}): ${formatNumber(c.records, 0)}, last ${time(c.last)}`),
    );
    part.body.replaceChildren(
      h(
        'dl',
        { class: 'figures' },
        el('dt', {}, 'newest event'),
        newest,
        el('dt', {}, 'freshness'),
        el('dd', { id: 'health-freshness' }, formatAge(health.freshness.seconds)),
        el('dt', {}, 'dead letters'),
        dead,
        el('dt', {}, 'by stage'),
        el('dd', { id: 'health-dead-stages' }, stages),
      ),
      el('h3', {}, 'Consumer lag'),
      h('ul', { id: 'health-lag' }, lag),
      el('h3', {}, 'Backpressure'),
      h('ul', { id: 'health-backpressure' }, pressure),
      el('h3', {}, 'Dead letters by code'),
      h('ul', { id: 'health-dlq' }, codes.length > 0 ? codes : [el('li', { class: 'muted' }, 'none')]),
    );
  }
  return { part, load };
}
