-- Sends every new chest radiograph to pneumo (the modality "pneumo" in orthanc.json). pneumo
-- checks eligibility itself (CR/DX/DR, CHEST, PA/AP) and logs anything else as not eligible,
-- so this filter only saves traffic. pneumo's own results (SR, OT) are not sent back to it.
function OnStoredInstance(instanceId, tags, metadata, origin)
  local modality = tags['Modality'] or ''
  if (modality == 'CR' or modality == 'DX' or modality == 'DR') and
     origin['RemoteAet'] ~= 'PNEUMO' then
    SendToModality(instanceId, 'pneumo')
  end
end
