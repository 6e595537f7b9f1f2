/** lab2prod's icons, inline SVG (nothing is fetched at run time). */
import { LabIcon } from '@jupyterlab/ui-components';

export const lab2prodIcon = new LabIcon({
  name: 'lab2prod:pipeline',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<rect x="2" y="3" width="8" height="5" rx="1"/><rect x="14" y="9.5" width="8" height="5" rx="1"/>' +
    '<rect x="2" y="16" width="8" height="5" rx="1"/>' +
    '<path d="M10 5.5h2.5a1 1 0 0 1 1 1V10h-1.5V7H10zM10 18.5h2.5a1 1 0 0 0 1-1V14h-1.5v3H10z"/>' +
    '</g></svg>'
});

export const tagIcon = new LabIcon({
  name: 'lab2prod:tag',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M21.4 11.6l-9-9A2 2 0 0 0 11 2H4a2 2 0 0 0-2 2v7c0 ' +
    '.55.22 1.05.59 1.42l9 9a2 2 0 0 0 2.82 0l7-7a2 2 0 0 0 0-2.82zM6.5 8A1.5 1.5 0 1 1 8 6.5 ' +
    '1.5 1.5 0 0 1 6.5 8z"/></svg>'
});
