// Prefect names unnamed runs with a random "adjective-animal" slug.
const ADJECTIVES = [
  "amber", "ancient", "arrogant", "bold", "brave", "bright", "busy", "calm", "clever", "crimson",
  "curious", "daring", "dazzling", "eager", "elegant", "fancy", "fearless", "gentle", "glorious", "golden",
  "happy", "hidden", "humble", "icy", "jolly", "keen", "lively", "lucky", "mellow", "misty",
  "nimble", "noble", "olive", "patient", "proud", "quiet", "rapid", "rustic", "shiny", "silent",
  "silver", "smart", "spicy", "steady", "sturdy", "swift", "tidy", "tough", "vivid", "witty",
];
const ANIMALS = [
  "albatross", "alligator", "antelope", "badger", "beaver", "bison", "bobcat", "buffalo", "camel", "caracal",
  "cheetah", "cobra", "condor", "coyote", "crane", "dingo", "dolphin", "eagle", "falcon", "ferret",
  "finch", "gazelle", "gecko", "gibbon", "heron", "hyena", "ibex", "jackal", "jaguar", "koala",
  "lemur", "lynx", "marmot", "mongoose", "moose", "narwhal", "ocelot", "otter", "panda", "pelican",
  "puffin", "quail", "raccoon", "raven", "salamander", "seal", "tapir", "toucan", "walrus", "wombat",
];

export function randomRunName(): string {
  const pick = (list: string[]) => list[Math.floor(Math.random() * list.length)]!;
  return `${pick(ADJECTIVES)}-${pick(ANIMALS)}`;
}
