// Reading REST answers defensively: fields the server omits or sends with another type
// become empty lists and objects, so views never fail on a missing field.
// Pure, without DOM access (the unit tests import it in Node).

export const listOf = (value) => (Array.isArray(value) ? value : []);
export const objectOf = (value) =>
    (value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {});
