// GraphBuilder and block helpers.
export {};
