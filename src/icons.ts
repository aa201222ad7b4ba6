/** The extension's icons, for every view and command. */
import { LabIcon } from '@jupyterlab/ui-components';
import diarySvg from '../style/icons/diary.svg';

export const diaryIcon = new LabIcon({
  name: 'deardiary:diary',
  svgstr: diarySvg
});
