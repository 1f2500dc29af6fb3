/**
 * What the docker driver says when the Docker Engine refuses a TaskManager container: the
 * Engine's own words and the setting to change (image, network).
 */
import { DockerEngineError } from "./docker_engine.ts";

/**
 * The Engine's refusal to create, fill or start a TaskManager container (`what` the driver tried),
 * in words that say what to change; other errors as they are.
 */
export function explainRefusal(
  err: unknown,
  what: string,
  image: string,
  network?: string,
): unknown {
  if (!(err instanceof DockerEngineError)) return err;
  const said = err.engineMessage;
  if (err.engineStatus === 404 && /no such image/i.test(said)) {
    return new DockerEngineError(
      404,
      said,
      `the TaskManager image ${image} is not on the Docker host (Docker Engine: ${said}): build it with \`npm run images\`, or set docker.taskmanager-image to an image that is there (the docker driver never pulls)`,
    );
  }
  if (network && err.engineStatus === 404 && /network/i.test(said)) {
    return new DockerEngineError(
      404,
      said,
      `the network ${network} for TaskManager containers does not exist (Docker Engine: ${said}): set docker.network to a network that reaches NATS (in compose: the project's network)`,
    );
  }
  return new DockerEngineError(err.engineStatus, said, `cannot ${what} (${image}): ${said}`);
}
