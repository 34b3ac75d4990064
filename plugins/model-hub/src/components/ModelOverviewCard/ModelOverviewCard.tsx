import { ReactNode } from 'react';
import { InfoCard, InfoCardVariants, Link } from '@backstage/core-components';
import { useTranslationRef } from '@backstage/frontend-plugin-api';
import { EntityRefLinks, useEntity } from '@backstage/plugin-catalog-react';
import {
  isModelEntity,
  MODEL_REF_DEFAULT_KINDS,
  ModelEntity,
} from '@model-hub/backstage-plugin-model-hub-common';
import Chip from '@material-ui/core/Chip';
import Grid from '@material-ui/core/Grid';
import Typography from '@material-ui/core/Typography';
import { makeStyles } from '@material-ui/core/styles';
import { resolveEntityRefs } from '../../lib/resolveEntityRefs';
import { NotAModel } from '../NotAModel';
import { modelHubTranslationRef } from '../../translation';

const useStyles = makeStyles(theme => ({
  label: {
    color: theme.palette.text.secondary,
    textTransform: 'uppercase',
    fontSize: '10px',
    fontWeight: 'bold',
    letterSpacing: 0.5,
    overflow: 'hidden',
    whiteSpace: 'nowrap',
    marginBottom: theme.spacing(1),
  },
  value: {
    fontWeight: 'bold',
    overflow: 'hidden',
    lineHeight: '24px',
    wordBreak: 'break-word',
  },
  description: {
    wordBreak: 'break-word',
  },
  chip: {
    marginRight: theme.spacing(0.5),
    marginBottom: theme.spacing(0.5),
  },
}));

/**
 * Props of {@link ModelOverviewCard}.
 *
 * @public
 */
export interface ModelOverviewCardProps {
  /** The InfoCard variant; use `gridItem` inside a legacy entity page grid. */
  variant?: InfoCardVariants;
}

/** The Hugging Face Hub page of a repository, `org/name`. */
export function huggingFaceRepoUrl(repo: string): string {
  return `https://huggingface.co/${repo
    .split('/')
    .map(encodeURIComponent)
    .join('/')}`;
}

function OverviewField(props: {
  label: string;
  value?: string;
  children?: ReactNode;
  wide?: boolean;
}) {
  const { label, value, children, wide } = props;
  const classes = useStyles();
  return (
    <Grid item xs={12} sm={wide ? 12 : 6} lg={wide ? 12 : 4}>
      <Typography variant="inherit" component="h2" className={classes.label}>
        {label}
      </Typography>
      {children ?? (
        <Typography variant="body2" className={classes.value}>
          {value}
        </Typography>
      )}
    </Grid>
  );
}

function RefLinks(props: {
  values: ReadonlyArray<string> | string | undefined;
  defaultKind: string;
  defaultNamespace: string;
}) {
  const { values, defaultKind, defaultNamespace } = props;
  const classes = useStyles();
  const { refs, invalid } = resolveEntityRefs(values, {
    defaultKind,
    defaultNamespace,
  });
  return (
    <Typography variant="body2" component="div" className={classes.value}>
      {refs.length > 0 && (
        <EntityRefLinks entityRefs={refs} defaultKind={defaultKind} />
      )}
      {invalid.length > 0 && (
        <>
          {refs.length > 0 && ', '}
          {invalid.join(', ')}
        </>
      )}
    </Typography>
  );
}

function SourceValue(props: { source: unknown }) {
  const { source } = props;
  const classes = useStyles();
  const { t } = useTranslationRef(modelHubTranslationRef);

  if (
    source === 'upload' ||
    (typeof source === 'object' && source !== null && 'upload' in source)
  ) {
    return (
      <Typography variant="body2" className={classes.value}>
        {t('modelOverviewCard.source.upload')}
      </Typography>
    );
  }

  const huggingface =
    typeof source === 'object' && source !== null && 'huggingface' in source
      ? (source as { huggingface?: { repo?: unknown; revision?: unknown } })
          .huggingface
      : undefined;
  if (huggingface && typeof huggingface.repo === 'string') {
    const { repo, revision } = huggingface;
    return (
      <Typography variant="body2" component="div" className={classes.value}>
        {t('modelOverviewCard.source.huggingFace')}:{' '}
        <Link to={huggingFaceRepoUrl(repo)}>{repo}</Link>
        {typeof revision === 'string' && revision && (
          <> ({t('modelOverviewCard.source.revision', { revision })})</>
        )}
      </Typography>
    );
  }

  return (
    <Typography variant="body2" className={classes.value}>
      {t('modelOverviewCard.source.unknown')}
    </Typography>
  );
}

function ModelOverview(props: { entity: ModelEntity }) {
  const { entity } = props;
  const { spec } = entity;
  const classes = useStyles();
  const { t } = useTranslationRef(modelHubTranslationRef);
  const namespace = entity.metadata.namespace ?? 'default';
  const tags = spec.tags ?? [];

  return (
    <Grid container spacing={3}>
      <OverviewField label={t('modelOverviewCard.fields.description')} wide>
        <Typography variant="body2" className={classes.description}>
          {entity.metadata.description || t('modelOverviewCard.noDescription')}
        </Typography>
      </OverviewField>
      <OverviewField label={t('modelOverviewCard.fields.owner')}>
        <RefLinks
          values={spec.owner}
          defaultKind={MODEL_REF_DEFAULT_KINDS.owner}
          defaultNamespace={namespace}
        />
      </OverviewField>
      {spec.system && (
        <OverviewField label={t('modelOverviewCard.fields.system')}>
          <RefLinks
            values={spec.system}
            defaultKind={MODEL_REF_DEFAULT_KINDS.system}
            defaultNamespace={namespace}
          />
        </OverviewField>
      )}
      <OverviewField
        label={t('modelOverviewCard.fields.type')}
        value={spec.type}
      />
      {spec.task && (
        <OverviewField
          label={t('modelOverviewCard.fields.task')}
          value={spec.task}
        />
      )}
      <OverviewField
        label={t('modelOverviewCard.fields.lifecycle')}
        value={spec.lifecycle}
      />
      {spec.format && (
        <OverviewField
          label={t('modelOverviewCard.fields.format')}
          value={spec.format}
        />
      )}
      {spec.license && (
        <OverviewField
          label={t('modelOverviewCard.fields.license')}
          value={spec.license}
        />
      )}
      {spec.source !== undefined && (
        <OverviewField label={t('modelOverviewCard.fields.source')}>
          <SourceValue source={spec.source} />
        </OverviewField>
      )}
      {spec.baseModels && spec.baseModels.length > 0 && (
        <OverviewField label={t('modelOverviewCard.fields.baseModels')} wide>
          <RefLinks
            values={spec.baseModels}
            defaultKind={MODEL_REF_DEFAULT_KINDS.baseModels}
            defaultNamespace={namespace}
          />
        </OverviewField>
      )}
      {spec.datasets && spec.datasets.length > 0 && (
        <OverviewField label={t('modelOverviewCard.fields.datasets')} wide>
          <RefLinks
            values={spec.datasets}
            defaultKind={MODEL_REF_DEFAULT_KINDS.datasets}
            defaultNamespace={namespace}
          />
        </OverviewField>
      )}
      {tags.length > 0 && (
        <OverviewField label={t('modelOverviewCard.fields.tags')} wide>
          <div>
            {tags.map(tag => (
              <Chip
                key={tag}
                size="small"
                label={tag}
                className={classes.chip}
              />
            ))}
          </div>
        </OverviewField>
      )}
    </Grid>
  );
}

/**
 * Shows what a Model is: its description, type, task, format, license,
 * lifecycle, owner, system, source, base models, datasets and tags. It reads
 * the entity from the entity page (`useEntity`); for other entities it says
 * that it only shows Models.
 *
 * @public
 */
export function ModelOverviewCard(props: ModelOverviewCardProps) {
  const { entity } = useEntity();
  const { t } = useTranslationRef(modelHubTranslationRef);
  return (
    <InfoCard title={t('modelOverviewCard.title')} variant={props.variant}>
      {isModelEntity(entity) ? (
        <ModelOverview entity={entity} />
      ) : (
        <NotAModel entity={entity} />
      )}
    </InfoCard>
  );
}
