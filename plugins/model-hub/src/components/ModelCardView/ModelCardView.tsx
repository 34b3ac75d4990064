import {
  CodeSnippet,
  MarkdownContent,
  Progress,
  ResponseErrorPanel,
  StructuredMetadataTable,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import Box from '@material-ui/core/Box';
import Grid from '@material-ui/core/Grid';
import Typography from '@material-ui/core/Typography';
import useAsync from 'react-use/esm/useAsync';
import { HubFile, HubVersion, modelHubApiRef, ModelRef } from '../../api';

/** Splits the YAML front matter (`---` … `---`) from a model card. */
export function splitFrontMatter(text: string): {
  meta: Record<string, string>;
  body: string;
} {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(text);
  if (!match) {
    return { meta: {}, body: text };
  }
  const meta: Record<string, string> = {};
  let lastKey: string | undefined;
  for (const line of match[1].split(/\r?\n/)) {
    const kv = /^([A-Za-z0-9_-]+):\s*(.*)$/.exec(line);
    if (kv) {
      lastKey = kv[1];
      meta[lastKey] = kv[2].replace(/^["']|["']$/g, '');
    } else if (lastKey && /^\s*-\s+/.test(line)) {
      const item = line.replace(/^\s*-\s+/, '').replace(/^["']|["']$/g, '');
      meta[lastKey] = meta[lastKey] ? `${meta[lastKey]}, ${item}` : item;
    }
  }
  return { meta, body: text.slice(match[0].length) };
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Props of {@link ModelCardView}. @public */
export type ModelCardViewProps = {
  model: ModelRef;
  version: HubVersion;
  files: HubFile[];
};

/**
 * The model card (README.md) of a version rendered as Markdown, its front
 * matter as a table, and JSON viewers for `config.json` and the version's
 * metadata.
 *
 * @public
 */
export function ModelCardView(props: ModelCardViewProps) {
  const { model, version, files } = props;
  const api = useApi(modelHubApiRef);
  const local = (path: string) =>
    files.find(
      f =>
        f.path.toLocaleLowerCase('en-US') === path && f.location !== 'remote',
    );
  const readme = local('readme.md');
  const config = local('config.json');

  const { value, loading, error } = useAsync(async () => {
    const [card, configText] = await Promise.all([
      readme
        ? api.readTextFile(model, version.label, readme.path)
        : Promise.resolve(undefined),
      config
        ? api.readTextFile(model, version.label, config.path)
        : Promise.resolve(undefined),
    ]);
    return { card, configText };
  }, [api, model, version.label, readme?.path, config?.path]);

  if (loading) {
    return <Progress />;
  }
  if (error) {
    return <ResponseErrorPanel error={error} />;
  }
  const card = value?.card ? splitFrontMatter(value.card) : undefined;

  return (
    <Grid container spacing={3}>
      <Grid item xs={12} md={7}>
        <Typography variant="h6" gutterBottom>
          Model card
        </Typography>
        {card ? (
          <MarkdownContent content={card.body} dialect="gfm" />
        ) : (
          <Typography variant="body2" color="textSecondary">
            This version has no model card (README.md).
          </Typography>
        )}
      </Grid>
      <Grid item xs={12} md={5}>
        {card && Object.keys(card.meta).length > 0 && (
          <Box mb={3}>
            <Typography variant="h6" gutterBottom>
              Card metadata
            </Typography>
            <StructuredMetadataTable metadata={card.meta} dense />
          </Box>
        )}
        {value?.configText && (
          <Box mb={3}>
            <Typography variant="h6" gutterBottom>
              config.json
            </Typography>
            <CodeSnippet
              language="json"
              text={prettyJson(value.configText)}
              showCopyCodeButton
            />
          </Box>
        )}
        <Typography variant="h6" gutterBottom>
          Version metadata
        </Typography>
        <CodeSnippet
          language="json"
          text={JSON.stringify(version, null, 2)}
          showCopyCodeButton
        />
      </Grid>
    </Grid>
  );
}
