// The console's entry point: mounts the app.
import { render } from 'preact'
import { App } from './App'
import './style.css'

render(<App />, document.getElementById('app')!)
