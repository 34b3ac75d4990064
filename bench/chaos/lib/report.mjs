// Formats a run's figures as Markdown (for results.md) and a console summary.
import os from 'node:os';

const mib = b => (b / 1024 / 1024).toFixed(1);

export function summarize(run) {
  const s = run.seconds;
  const w = run.workload;
  return {
    uploadsMiBps: w.uploadBytes
      ? Number((w.uploadBytes / 1024 / 1024 / s.uploads).toFixed(1))
      : 0,
    hfReposPerMin: Number(((w.repos / s.hfJobs) * 60).toFixed(1)),
    transitionsPerS: Number((w.transitions / s.approvals).toFixed(1)),
    mirrorMiBps: w.mirrorBytes
      ? Number((w.mirrorBytes / 1024 / 1024 / s.mirror).toFixed(1))
      : 0,
  };
}

export function markdown(run) {
  const t = summarize(run);
  const lines = [];
  lines.push(
    `### ${run.profile} run, ${run.instances} instance(s), ${run.killsDone} kills — ${run.startedAt}`,
  );
  lines.push('');
  lines.push(
    `- machine: ${os.cpus().length} cores (${
      os.cpus()[0]?.model ?? '?'
    }), ${mib(os.totalmem())} MiB RAM, Node ${
      process.version
    }; load before/after ${run.loadBefore} / ${run.loadAfter}`,
  );
  lines.push(`- command: \`${run.command}\``);
  lines.push(`- code: ${run.tree}`);
  lines.push(
    `- workload: ${run.workload.repos} HF repos (${
      run.workload.hfJobs
    } sync and download jobs), ${run.workload.uploads} tus uploads of ${mib(
      run.workload.uploadSize,
    )} MiB (chunk ${mib(run.workload.chunkSize)} MiB), ${
      run.workload.transitions
    } transitions, ${run.workload.mirrorDownloads} mirror downloads (${mib(
      run.workload.mirrorBytes,
    )} MiB)`,
  );
  lines.push(
    `- wall time: ${run.seconds.total.toFixed(
      0,
    )} s (start-up ${run.seconds.startup.toFixed(
      0,
    )} s, workload to jobs drained ${run.seconds.workload.toFixed(
      0,
    )} s, checks ${run.seconds.checks.toFixed(
      0,
    )} s); instance start-up median ${run.startupMedianS} s`,
  );
  lines.push(
    `- throughput: uploads ${
      t.uploadsMiBps
    } MiB/s (${run.seconds.uploads.toFixed(0)} s), HF repos ${
      t.hfReposPerMin
    }/min synced and downloaded (first job queued to last finished ${run.seconds.hfJobs.toFixed(
      0,
    )} s), transitions ${t.transitionsPerS}/s (${run.seconds.approvals.toFixed(
      0,
    )} s), mirror ${t.mirrorMiBps} MiB/s (${run.seconds.mirror.toFixed(0)} s)`,
  );
  lines.push(
    `- proxy: ${run.proxy.connections} connections (${Object.entries(
      run.proxy.perInstance,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}), ${run.proxy.refused} refused and re-routed, ${
      run.proxy.noBackend
    } with no live instance`,
  );
  lines.push(
    `- kills: ${run.killsDone} (${
      run.kills
        .map(k => k.instance ?? `restart failed: ${k.restartFailed}`)
        .join(', ') || 'none'
    }); starts that hung and were retried ${
      run.failedStarts ?? 0
    }; client retries ${run.stats.retries}; errors by kind: ${
      Object.entries(run.stats.errors)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
  );
  lines.push('');
  lines.push('| check | result | detail |');
  lines.push('| --- | --- | --- |');
  for (const c of run.checks)
    lines.push(
      `| ${c.name} | ${c.ok ? 'pass' : '**FAIL**'} | ${String(c.detail)
        .replace(/\|/g, '\\|')
        .replace(/\n/g, ' ')} |`,
    );
  lines.push('');
  return lines.join('\n');
}
