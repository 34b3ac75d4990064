import {
  CompoundEntityRef,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import { InfoCard, InfoCardVariants } from '@backstage/core-components';
import { useTranslationRef } from '@backstage/frontend-plugin-api';
import {
  EntityRefLink,
  getEntityRelations,
  useEntity,
} from '@backstage/plugin-catalog-react';
import {
  isModelEntity,
  MODEL_KIND,
  MODEL_REF_DEFAULT_KINDS,
  ModelEntity,
  RELATION_DERIVATION_OF,
  RELATION_DERIVED_FROM,
} from '@model-hub/backstage-plugin-model-hub-common';
import List from '@material-ui/core/List';
import ListItem from '@material-ui/core/ListItem';
import Typography from '@material-ui/core/Typography';
import { makeStyles } from '@material-ui/core/styles';
import { resolveEntityRefs } from '../../lib/resolveEntityRefs';
import { NotAModel } from '../NotAModel';
import { modelHubTranslationRef } from '../../translation';

const useStyles = makeStyles(theme => ({
  section: {
    '& + &': {
      marginTop: theme.spacing(2),
    },
  },
  label: {
    color: theme.palette.text.secondary,
    textTransform: 'uppercase',
    fontSize: '10px',
    fontWeight: 'bold',
    letterSpacing: 0.5,
  },
}));

/**
 * Props of {@link ModelLineageCard}.
 *
 * @public
 */
export interface ModelLineageCardProps {
  /** The InfoCard variant; use `gridItem` inside a legacy entity page grid. */
  variant?: InfoCardVariants;
}

function uniqueRefs(refs: CompoundEntityRef[]): CompoundEntityRef[] {
  const seen = new Map<string, CompoundEntityRef>();
  for (const ref of refs) {
    const key = stringifyEntityRef(ref).toLocaleLowerCase('en-US');
    if (!seen.has(key)) {
      seen.set(key, ref);
    }
  }
  return [...seen.values()];
}

function LineageSection(props: {
  title: string;
  refs: CompoundEntityRef[];
  emptyText: string;
}) {
  const { title, refs, emptyText } = props;
  const classes = useStyles();
  return (
    <section className={classes.section}>
      <Typography component="h2" className={classes.label}>
        {title}
      </Typography>
      {refs.length > 0 ? (
        <List dense aria-label={title}>
          {refs.map(ref => (
            <ListItem key={stringifyEntityRef(ref)} disableGutters>
              <EntityRefLink entityRef={ref} defaultKind={MODEL_KIND} />
            </ListItem>
          ))}
        </List>
      ) : (
        <Typography variant="body2">{emptyText}</Typography>
      )}
    </section>
  );
}

function ModelLineage(props: { entity: ModelEntity }) {
  const { entity } = props;
  const { t } = useTranslationRef(modelHubTranslationRef);
  const fromSpec = resolveEntityRefs(entity.spec.baseModels, {
    defaultKind: MODEL_REF_DEFAULT_KINDS.baseModels,
    defaultNamespace: entity.metadata.namespace ?? 'default',
  }).refs;
  const baseModels = uniqueRefs([
    ...getEntityRelations(entity, RELATION_DERIVED_FROM),
    ...fromSpec,
  ]);
  const derivations = uniqueRefs(
    getEntityRelations(entity, RELATION_DERIVATION_OF),
  );
  return (
    <>
      <LineageSection
        title={t('modelLineageCard.derivedFrom')}
        refs={baseModels}
        emptyText={t('modelLineageCard.noBaseModels')}
      />
      <LineageSection
        title={t('modelLineageCard.derivations')}
        refs={derivations}
        emptyText={t('modelLineageCard.noDerivations')}
      />
    </>
  );
}

/**
 * Shows where a Model comes from and what was made from it: the models it
 * was derived from (its `derivedFrom` relations and `spec.baseModels`) and
 * the models derived from it (its `derivationOf` relations).
 *
 * @public
 */
export function ModelLineageCard(props: ModelLineageCardProps) {
  const { entity } = useEntity();
  const { t } = useTranslationRef(modelHubTranslationRef);
  return (
    <InfoCard title={t('modelLineageCard.title')} variant={props.variant}>
      {isModelEntity(entity) ? (
        <ModelLineage entity={entity} />
      ) : (
        <NotAModel entity={entity} />
      )}
    </InfoCard>
  );
}
