/** Entry point of the web UI (served by the daemon at /ui/). */
import { render } from 'preact';
import { App } from './app.js';

render(<App />, document.getElementById('app')!);
