/**
 * Block document data rules from Prefect's models/block_documents.py: nested
 * documents travel as `{"$ref": {"block_document_id": ...}}` on top-level keys,
 * are stored as references, and are inlined again (with their own secrets
 * obfuscated) when a document is read.
 */
import { BadRequest } from "../domain/errors";
import { isJsonObject, type JsonObject } from "../lib/json";
import { canonicalUuid } from "../lib/uuid";
import { UUID_RE } from "../schemas/common";
import { obfuscateSecrets, restoreObfuscatedSecrets, setOwnKey } from "./secrets";

/** Prefect refuses reference chains deeper than this. */
const MAX_REFERENCE_DEPTH = 50;

export interface SeparatedData {
  data: JsonObject;
  /** [key in data, referenced document id] */
  references: [string, string][];
}

/** Splits top-level `$ref` values off the data (only top-level keys can hold references, as in Prefect). */
export function separateReferences(data: JsonObject): SeparatedData {
  const plain: JsonObject = {};
  const references: [string, string][] = [];
  for (const [key, value] of Object.entries(data)) {
    if (!isJsonObject(value) || !("$ref" in value)) {
      setOwnKey(plain, key, value);
      continue;
    }
    const ref = value.$ref;
    const id = isJsonObject(ref) ? ref.block_document_id : undefined;
    if (id == null) throw new BadRequest(`Received block reference without a block_document_id in key ${key}`);
    // Prefect fails with a server error on a malformed id; a 400 says what is wrong.
    if (typeof id !== "string" || !UUID_RE.test(id)) {
      throw new BadRequest(`Received block reference with an invalid block_document_id in key ${key}`);
    }
    references.push([key, canonicalUuid(id)]);
  }
  return { data: plain, references };
}

/** A stored document as the assembler needs it. */
export interface StoredDocument {
  id: string;
  name: string;
  data: JsonObject;
  isAnonymous: boolean;
  /** The fields of the document's schema (for `secret_fields`). */
  schemaFields: JsonObject;
  /** The document's block type, already in response form. */
  blockType: JsonObject;
}

export interface ReferenceEdge {
  parentId: string;
  name: string;
  childId: string;
}

export interface AssembledDocument {
  data: JsonObject;
  block_document_references: JsonObject;
}

/**
 * The document's data with every referenced document inlined at its key, and the
 * `block_document_references` record describing them (recursively).
 */
export function assembleDocument(
  id: string,
  documents: Map<string, StoredDocument>,
  edges: ReferenceEdge[],
  includeSecrets: boolean,
  depth = 0,
): AssembledDocument {
  if (depth > MAX_REFERENCE_DEPTH) {
    throw new BadRequest(`Block document reference graph exceeds max depth ${MAX_REFERENCE_DEPTH}; refusing to recurse further.`);
  }
  const document = documents.get(id)!;
  // A copy: referenced data is inlined into it, and a document can be the child of several parents.
  const data = { ...(includeSecrets ? document.data : obfuscateSecrets(document.data, document.schemaFields)) };
  const references: JsonObject = {};
  for (const edge of edges) {
    const child = edge.parentId === id ? documents.get(edge.childId) : undefined;
    if (!child) continue;
    const nested = assembleDocument(child.id, documents, edges, includeSecrets, depth + 1);
    setOwnKey(data, edge.name, nested.data);
    setOwnKey(references, edge.name, {
      block_document: {
        id: child.id,
        name: child.name,
        block_type: child.blockType,
        is_anonymous: child.isAnonymous,
        block_document_references: nested.block_document_references,
      },
    });
  }
  return { data, block_document_references: references };
}

export interface DocumentUpdateRequest {
  data?: JsonObject;
  merge_existing_data?: boolean;
}

/**
 * The data a PATCH leaves in the document, or undefined when it changes nothing
 * (merging with no `data` sent). Posted `********` keep the stored secrets; merging
 * is shallow, and references not posted again are dropped, as in Prefect.
 */
export function updatedDocumentData(
  current: JsonObject,
  schemaFields: JsonObject,
  request: DocumentUpdateRequest,
): SeparatedData | undefined {
  const merge = request.merge_existing_data ?? true;
  if (merge && request.data === undefined) return undefined;
  const posted = restoreObfuscatedSecrets(request.data ?? {}, current, schemaFields);
  return separateReferences(merge ? { ...current, ...posted } : posted);
}
