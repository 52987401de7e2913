// The deploys view.
export function start() {}
export function stop() {}
