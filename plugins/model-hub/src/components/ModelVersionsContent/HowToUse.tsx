import { CodeSnippet, Progress } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import Typography from '@material-ui/core/Typography';
import useAsync from 'react-use/esm/useAsync';
import { HubVersion, modelHubApiRef } from '../../api';

/** The snippet text: pinned to the version's commit where it has one. */
export function howToUseText(options: {
  mirror: string;
  repo: string;
  revision: string;
  fileUrl?: string;
  filePath?: string;
}) {
  const { mirror, repo, revision, fileUrl, filePath } = options;
  return [
    '# Python (huggingface_hub), through the Model Hub mirror',
    `export HF_ENDPOINT=${mirror}`,
    'export HF_TOKEN=<your Model Hub access token>',
    `huggingface-cli download ${repo} --revision ${revision}`,
    '',
    `python -c 'from huggingface_hub import snapshot_download; print(snapshot_download("${repo}", revision="${revision}"))'`,
    ...(fileUrl
      ? [
          '',
          `# One file with curl (resumable with -C -; ETag is the SHA-256)`,
          `curl -fL -C - -H "Authorization: Bearer $HF_TOKEN" -o ${
            filePath?.split('/').pop() ?? 'file'
          } \\`,
          `  ${fileUrl}`,
        ]
      : []),
  ].join('\n');
}

/**
 * How to download a version: `HF_ENDPOINT` for Hugging Face clients, curl,
 * pinned to the version's resolved commit (or its label).
 *
 * @public
 */
export function HowToUse(props: {
  namespace: string;
  name: string;
  version: HubVersion;
  /** A file to show the curl command with, e.g. the largest weights file. */
  filePath?: string;
}) {
  const api = useApi(modelHubApiRef);
  const { namespace, name, version, filePath } = props;
  const { value, loading } = useAsync(async () => {
    const mirror = await api.getMirrorEndpoint();
    const fileUrl = filePath
      ? await api.getFileUrl({ namespace, name }, version.label, filePath)
      : undefined;
    return { mirror, fileUrl };
  }, [api, namespace, name, version.label, filePath]);
  if (loading || !value) {
    return <Progress />;
  }
  const revision = version.resolvedCommit ?? version.label;
  return (
    <>
      <Typography variant="body2" gutterBottom>
        Pinned to {version.resolvedCommit ? 'commit' : 'version'}{' '}
        <code>{revision}</code>; a pinned revision never changes.
      </Typography>
      <CodeSnippet
        language="bash"
        showCopyCodeButton
        text={howToUseText({
          mirror: value.mirror,
          repo: `${namespace}/${name}`,
          revision,
          fileUrl: value.fileUrl,
          filePath,
        })}
      />
    </>
  );
}
