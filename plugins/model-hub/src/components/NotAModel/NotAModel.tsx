import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import { useTranslationRef } from '@backstage/frontend-plugin-api';
import Typography from '@material-ui/core/Typography';
import { modelHubTranslationRef } from '../../translation';

/**
 * The content of a Model card placed on the page of an entity that is not a
 * Model.
 */
export function NotAModel(props: { entity: Entity }) {
  const { entity } = props;
  const { t } = useTranslationRef(modelHubTranslationRef);
  return (
    <>
      <Typography variant="subtitle1" component="h2" gutterBottom>
        {t('notAModel.title')}
      </Typography>
      <Typography variant="body2">
        {t('notAModel.description', {
          entityRef: stringifyEntityRef(entity),
          kind: entity.kind,
        })}
      </Typography>
    </>
  );
}
