// The logs view.
export function start() {}
export function stop() {}
